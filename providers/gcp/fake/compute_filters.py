"""Compute Engine list filters: the ``filter`` query parameter of list and aggregatedList.

Why a module of its own: the filter language (compute's ``name eq regex`` and
AIP-160's ``a = "x"``) is the same for every resource, so ComputeModel only
calls apply_filter on the items it lists.
"""

import re

from errors import ApiError


def field_value(res, path):
    cur = res
    for part in path.split("."):
        if isinstance(cur, dict) and part in cur:
            cur = cur[part]
        else:
            return None
    if isinstance(cur, bool):
        return "true" if cur else "false"
    return cur if isinstance(cur, (str, int, float)) else None


def unquote(v):
    v = v.strip()
    if len(v) >= 2 and v[0] == v[-1] and v[0] in "\"'":
        return v[1:-1]
    return v


TERM = re.compile(r"^\s*([A-Za-z_][A-Za-z0-9_.]*)\s*(=|!=|:|\beq\b|\bne\b)\s*(.+?)\s*$")


def parse_filter(expr):
    """Compute list filters: 'name eq regex', 'name ne regex', AIP-160 'a = "x"', 'a != x', 'a:x',
    several terms in parentheses or joined by AND (all must hold) or OR (any)."""
    expr = expr.strip()
    groups = re.findall(r"\(([^()]*)\)", expr)
    rest = re.sub(r"\(([^()]*)\)", " ", expr)
    if groups and rest.replace("AND", "").strip():
        raise ValueError(expr)
    parts = groups if groups else [expr]
    terms = []
    joiner = "AND"
    for part in parts:
        if re.search(r"\s+OR\s+", part):
            joiner = "OR"
        for t in re.split(r"\s+(?:AND|OR)\s+", part):
            m = TERM.match(t)
            if not m:
                raise ValueError(t)
            terms.append((m.group(1), m.group(2), unquote(m.group(3))))
    return joiner, terms


def apply_filter(items, expr):
    if not expr:
        return list(items)
    try:
        joiner, terms = parse_filter(expr)
    except ValueError:
        raise ApiError(400, "Invalid value for field 'filter': '%s'. Invalid list filter expression." % expr,
                       reason="invalid", status="INVALID_ARGUMENT")

    def test(res, term):
        field, op, value = term
        v = field_value(res, field)
        if op in ("eq", "ne"):
            hit = v is not None and re.fullmatch(value, str(v)) is not None
            return hit if op == "eq" else not hit
        if op == ":":
            return v is not None if value == "*" else (v is not None and value in str(v))
        pattern = "^" + ".*".join(re.escape(x) for x in value.split("*")) + "$"
        hit = v is not None and re.match(pattern, str(v)) is not None
        return hit if op == "=" else not hit

    combine = all if joiner == "AND" else any
    return [r for r in items if combine(test(r, t) for t in terms)]
