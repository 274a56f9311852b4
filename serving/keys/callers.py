"""Who calls the service: a caller's role and scope, as its key grants them.

Roles: planner (lists, downloads, outcomes, inside its scope), service (score, score_features),
monitor (metrics), admin (everything, and reload). A planner's scope is its districts (or the whole
city), optionally some of their dongs, a capacity limit and a subset of its role's routes; the
keys file (serving/keys/key_file.py) stores it, the key check (serving/http/access.py) hands the
caller to the route, and the route asks the caller what it may see.
"""

from __future__ import annotations

from dataclasses import dataclass

from features.reference import dong_names

ROLES = ("planner", "service", "monitor", "admin")
CITY_WIDE = "*"


@dataclass(frozen=True)
class Caller:
    name: str
    role: str
    districts: tuple[str, ...] = ()
    dongs: tuple[str, ...] = ()
    max_capacity: int | None = None
    routes: tuple[str, ...] = ()

    @property
    def city_wide(self) -> bool:
        return self.role == "admin" or (CITY_WIDE in self.districts and not self.dongs)

    def scope_text(self) -> str:
        if self.city_wide:
            return "the whole city"
        where = ", ".join(self.districts) if CITY_WIDE not in self.districts else "the city"
        names = dong_names()  # a person reads the refusal: each dong by its name, with its code
        shown = [f"{names[d]} {d}" if d in names else d for d in self.dongs]
        return where + (f" (dongs {', '.join(shown)})" if self.dongs else "")

    def refusal_for_area(self, gu: str, dong: str | None) -> tuple[str, str] | None:
        """(field, message) when an area lies outside this key's scope."""
        if self.city_wide:
            return None
        if CITY_WIDE not in self.districts and gu not in self.districts:
            return "gu", f"gu: {gu} is outside this key's scope ({self.scope_text()})"
        if self.dongs and dong not in self.dongs:
            asked = f"dong {dong}" if dong else "the whole district"
            return (
                "dong",
                f"dong: {asked} is outside this key's scope ({self.scope_text()}); ask for one of its dongs",
            )
        return None

    def sees(self, gu: str, dong: str) -> bool:
        """Whether a household in (gu, dong) is inside this key's scope."""
        if self.city_wide:
            return True
        return (CITY_WIDE in self.districts or gu in self.districts) and (
            not self.dongs or dong in self.dongs
        )

    def capacity_limit(self, default: int) -> int:
        return self.max_capacity or default
