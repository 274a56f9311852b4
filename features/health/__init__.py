"""Round health: whether a delivery still looks like what the champion learnt from (issue 34)."""
