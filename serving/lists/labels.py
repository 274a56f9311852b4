"""How a list's words read in Korean, for the files and the terminal (the API keeps the codes)."""

CHANGE_KO = {"new": "신규", "risen": "상승", "fallen": "하락", "steady": "유지"}
LIST_KO = {"discovery": "발굴", "recheck": "재확인"}
