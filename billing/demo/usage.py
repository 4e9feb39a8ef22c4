"""The demo's usage: the events of one application on one day, a pure function of (seed,
SDKAppID, day, edition on that day, days since the application was created)."""

import datetime as dt
import random
from dataclasses import dataclass, field

from billing.calendar import billing_tz
from billing.demo.plans import HOURS, RHYTHMS, AppPlan, is_dau_spike, is_group_spike
from billing.models import Metric


@dataclass
class DayContext:
    plan: AppPlan
    day: dt.date
    edition: str
    age_days: int
    seed: int
    events: list = field(default_factory=list)
    counters: dict = field(default_factory=dict)

    def rng(self, label: str) -> random.Random:
        return random.Random(f"{self.seed}:{self.plan.sdkappid}:{self.day.isoformat()}:{label}")

    @property
    def activity(self) -> float:
        """Weekday/weekend variation and a slow growth since the application was created."""
        weekend = self.plan.weekend if self.day.weekday() >= 5 else 1.0
        return weekend * (1 + 0.005 * self.age_days)

    def scaled(self, rng: random.Random, bounds: tuple[int, int], minimum: int = 1) -> int:
        return max(minimum, round(rng.randint(*bounds) * self.activity))

    def moment(self, rng: random.Random, second_of_day: int | None = None) -> str:
        if second_of_day is None:
            hour = rng.choices(HOURS, weights=RHYTHMS[self.plan.rhythm])[0]
            second_of_day = hour * 3600 + rng.randrange(3600)
        second_of_day = min(max(second_of_day, 0), 86_399)
        start = dt.datetime.combine(self.day, dt.time.min, tzinfo=billing_tz())
        return (start + dt.timedelta(seconds=second_of_day)).isoformat(timespec="seconds")

    def add(self, metric: str, timestamp: str, value: int, properties: dict | None = None):
        n = self.counters.get(metric, 0) + 1
        self.counters[metric] = n
        event = {
            "id": f"demo-{self.plan.sdkappid}-{self.day.isoformat()}-{metric}-{n}",
            "application": self.plan.sdkappid,
            "metric": metric,
            "timestamp": timestamp,
            "value": value,
        }
        if properties:
            event["properties"] = properties
        self.events.append(event)


def _logins(ctx: DayContext) -> None:
    plan, rng = ctx.plan, ctx.rng("login")
    spike = is_dau_spike(ctx.day, plan.sdkappid) if plan.dau_spike else 0
    if ctx.edition == "trial":
        dau = min(99, ctx.scaled(rng, plan.trial_dau))
    elif spike == 1:
        dau = rng.randint(18_000, 22_000)
    elif spike == 2:
        dau = rng.randint(12_000, 14_000)
    else:
        dau = ctx.scaled(rng, plan.dau)
    # Regular users come back most days; a spike brings in new ones.
    pool = max(dau, round(plan.dau[1] * 2.5), round(plan.trial_dau[1] * 1.5))
    users = rng.sample(range(pool), dau)
    for user in users:
        user_id = f"u{user:06d}"
        ctx.add(Metric.IM_LOGIN, ctx.moment(rng), 1, {"user_id": user_id})
        # Some users log in again the same day: they still count once.
        if not spike and rng.random() < 0.1:
            ctx.add(Metric.IM_LOGIN, ctx.moment(rng), 1, {"user_id": user_id})


def _group_count(ctx: DayContext) -> None:
    plan, rng = ctx.plan, ctx.rng("groups")
    if ctx.edition == "trial":
        base = rng.randint(*plan.trial_groups)
    else:
        base = round(rng.randint(*plan.groups) * (1 + 0.002 * ctx.age_days))
    peak_sample = (
        rng.randrange(4) if plan.groups_spike and is_group_spike(ctx.day, plan.sdkappid) else -1
    )
    for sample in range(4):
        value = base + rng.randint(0, max(1, base // 50))
        if ctx.edition == "trial":
            value = min(value, 99)
        if sample == peak_sample and ctx.edition != "trial":
            value = rng.randint(104_000, 112_000)
        second = sample * 6 * 3600 + rng.randrange(300, 3000)
        ctx.add(Metric.IM_GROUP_COUNT, ctx.moment(rng, second), value)


def _moderation(ctx: DayContext) -> None:
    profile, rng = ctx.plan.moderation, ctx.rng("moderation")
    if profile is None:
        return
    for metric, bounds, spans in (
        (Metric.IM_MODERATION_TEXT, profile.texts, 12),
        (Metric.IM_MODERATION_IMAGE, profile.images, 8),
    ):
        # Aggregated per reporting window: one event per busy hour with that hour's count.
        total = ctx.scaled(rng, bounds)
        hours = sorted(rng.sample(range(6, 24), min(spans, 18)))
        weights = [rng.random() + 0.2 for _ in hours]
        left = total
        for i, hour in enumerate(hours):
            count = left if i == len(hours) - 1 else round(total * weights[i] / sum(weights))
            count = min(count, left)
            left -= count
            if count > 0:
                ctx.add(metric, ctx.moment(rng, hour * 3600 + rng.randrange(3600)), count)
    # Audio and video: one event per clip reviewed, in different clock hours.
    for metric, bounds, seconds in (
        (Metric.IM_MODERATION_AUDIO_SECONDS, profile.audio_clips, (5, 180)),
        (Metric.IM_MODERATION_VIDEO_SECONDS, profile.video_clips, (10, 300)),
    ):
        for _ in range(ctx.scaled(rng, bounds)):
            ctx.add(metric, ctx.moment(rng), rng.randint(*seconds))


def _calls(ctx: DayContext) -> None:
    profile, rng = ctx.plan.calls, ctx.rng("trtc")
    if profile is None:
        return
    resolutions = list(profile.resolutions)
    weights = list(profile.resolutions.values())
    for session in range(ctx.scaled(rng, profile.sessions)):
        room = f"room-{ctx.day:%m%d}-{session}"
        hour = rng.choices(HOURS, weights=RHYTHMS[ctx.plan.rhythm])[0]
        start = hour * 3600 + rng.randrange(3600)
        duration = rng.randint(*profile.minutes) * 60 + rng.randrange(60)
        video = bool(resolutions) and rng.random() < profile.video_share
        resolution = rng.choices(resolutions, weights=weights)[0] if video else None
        for participant in range(rng.randint(*profile.participants)):
            # Participants join late or leave early; the room's host stays throughout.
            joined = 0 if participant == 0 else rng.randrange(max(1, duration // 5))
            seconds = duration - joined - (0 if participant == 0 else rng.randrange(60))
            properties = {"room_id": room, "user_id": f"u{rng.randrange(100_000):06d}"}
            # In a video room some participants keep their camera off.
            if resolution and (participant == 0 or rng.random() < 0.85):
                metric = Metric.TRTC_VIDEO_SECONDS
                properties["resolution"] = resolution
            else:
                metric = Metric.TRTC_AUDIO_SECONDS
            ctx.add(metric, ctx.moment(rng, start + joined), max(1, seconds), properties)


def _conversational_ai(ctx: DayContext) -> None:
    """Each AI task: the task's duration, the audio of the human and of the AI agent (two
    participants) and speech-to-text for the part the human's microphone was on."""
    if ctx.plan.ai_tasks is None:
        return
    rng = ctx.rng("ai")
    for task in range(ctx.scaled(rng, ctx.plan.ai_tasks)):
        hour = rng.choices(HOURS, weights=RHYTHMS[ctx.plan.rhythm])[0]
        start = hour * 3600 + rng.randrange(3600)
        duration = rng.randint(60, 900)
        room = f"ai-{ctx.day:%m%d}-{task}"
        human = f"u{rng.randrange(100_000):06d}"
        timestamp = ctx.moment(rng, start)
        ctx.add(Metric.TRTC_AI_SECONDS, timestamp, duration, {"room_id": room, "task": task})
        ctx.add(
            Metric.TRTC_AUDIO_SECONDS,
            timestamp,
            duration,
            {"room_id": room, "user_id": human, "role": "human"},
        )
        ctx.add(
            Metric.TRTC_AUDIO_SECONDS,
            timestamp,
            duration,
            {"room_id": room, "user_id": "ai-agent", "role": "agent"},
        )
        stt = max(1, round(duration * rng.uniform(0.35, 0.6)))
        ctx.add(Metric.TRTC_STT_SECONDS, timestamp, stt, {"room_id": room, "user_id": human})


def day_events(plan: AppPlan, day: dt.date, edition: str, age_days: int, seed: int) -> list:
    ctx = DayContext(plan=plan, day=day, edition=edition, age_days=age_days, seed=seed)
    _logins(ctx)
    _group_count(ctx)
    _moderation(ctx)
    _calls(ctx)
    _conversational_ai(ctx)
    return ctx.events
