"""An independent model of SPEC 4 (retention and due logic), written from the
spec alone, to check the real binary against."""
from dataclasses import dataclass, field
from datetime import datetime, timezone
from zoneinfo import ZoneInfo

GRANS = ("hourly", "daily", "weekly", "monthly", "yearly")


@dataclass
class Snap:
    name: str
    created: int            # unix time
    kind: str = "timeline"
    pinned: bool = False
    pre: str = None
    seq: int = 1
    sent_to: dict = field(default_factory=dict)


def bucket(t, gran, tz):
    d = datetime.fromtimestamp(t, ZoneInfo(tz))
    if gran == "hourly":
        return (d.year, d.month, d.day, d.hour)
    if gran == "daily":
        return (d.year, d.month, d.day)
    if gran == "weekly":
        return tuple(d.isocalendar()[:2])
    if gran == "monthly":
        return (d.year, d.month)
    return (d.year,)


def expected_keep(snaps, policy, now, tz):
    """policy: dict with counts per granularity, min_age, pre_post, manual ('all' or int)."""
    order = sorted(snaps, key=lambda s: (s.created, s.seq, s.name))
    keep = set()
    if order:
        keep.add(order[-1].name)
    for s in order:
        if s.pinned:
            keep.add(s.name)
        if policy.get("min_age", 0) and s.created > now - policy["min_age"]:
            keep.add(s.name)
    pres = [s for s in order if s.kind == "pre"]
    n = policy.get("pre_post", 10)
    kept_pres = {s.name for s in (pres[-n:] if n else [])}
    for s in order:
        if s.name in kept_pres or (s.kind == "post" and s.pre in kept_pres):
            keep.add(s.name)
    manual = [s for s in order if s.kind in ("manual", "boot")]
    m = policy.get("manual", "all")
    for s in (manual if m == "all" else (manual[-m:] if m else [])):
        keep.add(s.name)
    # base for target: the newest snapshot each target holds
    targets = {t for s in order for t in s.sent_to}
    for t in targets:
        keep.add([s for s in order if t in s.sent_to][-1].name)
    timeline = [s for s in order if s.kind == "timeline"]
    for g in GRANS:
        count = policy.get(g, 0)
        buckets = {}
        for s in timeline:
            buckets.setdefault(bucket(s.created, g, tz), []).append(s)
        for key in sorted(buckets, reverse=True)[:count]:
            keep.add(buckets[key][0].name)
    return keep


def finest(policy):
    for g in GRANS:
        if policy.get(g, 0):
            return g
    return None


def due(snaps, policy, interval, now, tz):
    tl = [s.created for s in snaps if s.kind == "timeline" and s.created <= now]
    if not tl:
        return True
    last = max(tl)
    if interval:
        return now - last >= interval
    g = finest(policy) or "daily"
    return bucket(now, g, tz) != bucket(last, g, tz)


def iso(t):
    return datetime.fromtimestamp(t, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def stamp(t):
    return datetime.fromtimestamp(t, timezone.utc).strftime("%Y%m%dT%H%M%SZ")
