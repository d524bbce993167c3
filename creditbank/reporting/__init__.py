"""Read-only reporting: the operator's 数字驾驶舱 aggregates, computed in the database."""
