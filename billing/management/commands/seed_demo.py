"""Demo data: three customer accounts with applications in both regions, every edition, add-ons,
resource packs and ``--days`` days of usage ending yesterday (billing time zone).

Everything goes through the services (accounts, applications, ingestion), backdated with their
``created_on`` / ``effective`` / ``day`` arguments. The command is idempotent:

- accounts are found by name and owner e-mail, applications by their fixed SDKAppIDs; an
  application that exists is not set up again (its account was set up in one transaction);
- event ids are deterministic (``demo-<sdkappid>-<day>-<metric>-<n>``) and the content of one
  application's day is a pure function of (seed, SDKAppID, day, edition on that day, days since
  the application was created), so a second run stores nothing and reports every event as a
  duplicate, also when run on a later day or with another ``--days``.

stdout gets one summary line; progress goes to stderr.
"""

import datetime as dt
import random
from dataclasses import dataclass, field

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.core.validators import validate_email
from django.db import DatabaseError, transaction

from accounts.models import Account, Membership
from accounts.services import AccountError, account_create
from billing.calendar import billing_today, billing_tz, month_start
from billing.errors import BillingError
from billing.models import Application, Edition, EditionPeriod, Invoice, Metric, UsageEvent
from billing.services.applications import (
    addon_subscribe,
    application_create,
    edition_change,
    resource_pack_purchase,
    terms_renew,
)
from billing.services.ingestion import (
    MAX_BATCH,
    SYSTEM,
    IngestionRejected,
    usage_events_ingest,
)

ONE_DAY = dt.timedelta(days=1)
MAX_DAYS = 400

# Activity by clock hour (billing time zone), per kind of product.
RHYTHMS = {
    # A social chat app: busy in the evening, quiet at night.
    "social": [2, 1, 1, 1, 1, 1, 2, 4, 5, 5, 5, 5, 6, 5, 5, 5, 5, 6, 7, 9, 10, 10, 8, 4],
    # A telehealth service: office hours with a lunch dip.
    "clinic": [0, 0, 0, 0, 0, 0, 1, 3, 8, 10, 10, 9, 5, 7, 10, 10, 9, 8, 5, 3, 2, 1, 1, 0],
    # An education platform: classes in the morning, homework in the evening.
    "school": [0, 0, 0, 0, 0, 0, 1, 3, 9, 10, 10, 8, 4, 6, 8, 8, 7, 5, 5, 7, 8, 6, 3, 1],
}
HOURS = range(24)


# --------------------------------------------------------------------------------------------
# The design
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Step:
    """Something bought or changed ``offset`` days after the application was created
    (clamped to yesterday; ``offset=None`` is yesterday). ``optional`` steps are skipped when
    the history is too short for them."""

    kind: str  # "edition", "addon", "pack"
    code: str  # edition code or item code
    offset: int | None
    optional: bool = False


@dataclass(frozen=True)
class Moderation:
    """Cloud moderation per day (cn only): texts, images, audio clips, video clips."""

    texts: tuple[int, int]
    images: tuple[int, int]
    audio_clips: tuple[int, int]
    video_clips: tuple[int, int]


@dataclass(frozen=True)
class Calls:
    """TRTC rooms per day: each participant reports one event per session."""

    sessions: tuple[int, int]
    participants: tuple[int, int]
    minutes: tuple[int, int]
    video_share: float
    resolutions: dict[str, int]  # resolution -> weight; valid for the region


@dataclass(frozen=True)
class AppPlan:
    sdkappid: int
    name: str
    region: str
    rhythm: str
    dau: tuple[int, int]  # distinct users a day on Pro/Ultimate
    trial_dau: tuple[int, int]  # on Trial (its hard limit is 100)
    groups: tuple[int, int]  # group count on Pro/Ultimate
    weekend: float  # activity on Saturdays and Sundays relative to weekdays
    steps: tuple[Step, ...] = ()
    dau_spike: bool = False  # a 2-day spike above the 10,000 DAU included in Pro
    groups_spike: bool = False  # one day above the 100,000 groups included
    moderation: Moderation | None = None
    calls: Calls | None = None
    ai_tasks: tuple[int, int] | None = None  # Conversational AI tasks a day (intl)

    @property
    def trial_groups(self) -> tuple[int, int]:
        """Group count while on Trial, whose hard limit is 100 groups."""
        return (min(self.groups[0], 60), min(self.groups[1], 90))


@dataclass(frozen=True)
class AccountPlan:
    name: str
    email: str | None  # None: the customer e-mail given on the command line
    apps: tuple[AppPlan, ...]


CN_VIDEO = {"sd": 3, "hd": 5, "fhd": 2}
INTL_VIDEO = {"hd": 5, "fhd": 3, "2k": 2, "4k": 1}

PLANS = (
    AccountPlan(
        name="Lantern Social Ltd.",
        email=None,
        apps=(
            AppPlan(
                1400000101,
                "Lantern Chat",
                "cn",
                rhythm="social",
                dau=(600, 900),
                trial_dau=(40, 90),
                groups=(2500, 4000),
                weekend=1.25,
                dau_spike=True,
                steps=(
                    Step("edition", "pro", 3),
                    Step("pack", "im.moderation_pack.monthly", 3),
                    Step("addon", "im.addon.avchatroom.pro", 4),
                    Step("addon", "im.addon.group_members.pro", 4),
                    Step("addon", "im.addon.message_history.pro.30d", 6),
                    Step("pack", "im.moderation_pack.monthly", 34, optional=True),
                ),
                moderation=Moderation(
                    texts=(40_000, 70_000),
                    images=(3_000, 6_000),
                    audio_clips=(20, 40),
                    video_clips=(5, 12),
                ),
                calls=Calls(
                    sessions=(20, 35),
                    participants=(2, 6),
                    minutes=(5, 45),
                    video_share=0.0,
                    resolutions={},
                ),
            ),
            AppPlan(
                1400000102,
                "Lantern Global",
                "intl",
                rhythm="social",
                dau=(250, 400),
                trial_dau=(30, 80),
                groups=(1200, 2000),
                weekend=1.2,
                steps=(
                    Step("edition", "pro", 1),
                    # Mid-term: the unused days of the Pro term come back as a credit.
                    Step("edition", "ultimate", 13),
                ),
                calls=Calls(
                    sessions=(12, 25),
                    participants=(2, 8),
                    minutes=(10, 60),
                    video_share=0.7,
                    resolutions=INTL_VIDEO,
                ),
            ),
            AppPlan(
                1400000103,
                "Lantern Sandbox",
                "cn",
                rhythm="social",
                dau=(20, 60),
                trial_dau=(20, 60),
                groups=(5, 40),
                weekend=0.6,
                steps=(Step("addon", "im.addon.local_moderation", 2),),
                moderation=Moderation(
                    texts=(200, 800),
                    images=(20, 60),
                    audio_clips=(1, 4),
                    video_clips=(1, 2),
                ),
                calls=Calls(
                    sessions=(1, 4),
                    participants=(2, 3),
                    minutes=(2, 15),
                    video_share=0.3,
                    resolutions=CN_VIDEO,
                ),
            ),
        ),
    ),
    AccountPlan(
        name="Harbor Telehealth Inc.",
        email="ops@harbortelehealth.example",
        apps=(
            AppPlan(
                1400000104,
                "Harbor Clinic",
                "cn",
                rhythm="clinic",
                dau=(200, 350),
                trial_dau=(20, 60),
                groups=(800, 1500),
                weekend=0.45,
                steps=(
                    Step("edition", "ultimate", 1),
                    Step("pack", "im.moderation_pack.yearly_small", 1),
                    Step("addon", "im.addon.calls.advanced", 2),
                    Step("addon", "im.addon.group_members.ultimate", 5),
                    # Ultimate to Pro takes effect when the current Ultimate term ends.
                    Step("edition", "pro", None),
                ),
                moderation=Moderation(
                    texts=(5_000, 12_000),
                    images=(800, 1_500),
                    audio_clips=(10, 25),
                    video_clips=(2, 6),
                ),
                calls=Calls(
                    sessions=(40, 70),
                    participants=(2, 3),
                    minutes=(8, 30),
                    video_share=0.75,
                    resolutions=CN_VIDEO,
                ),
            ),
            AppPlan(
                1400000105,
                "Harbor Care Assistant",
                "intl",
                rhythm="clinic",
                dau=(150, 250),
                trial_dau=(20, 60),
                groups=(300, 600),
                weekend=0.6,
                steps=(Step("edition", "pro", 5),),
                calls=Calls(
                    sessions=(5, 12),
                    participants=(2, 2),
                    minutes=(10, 30),
                    video_share=0.8,
                    resolutions={"hd": 3, "fhd": 1},
                ),
                ai_tasks=(30, 60),
            ),
            AppPlan(
                1400000106,
                "Harbor QA",
                "intl",
                rhythm="clinic",
                dau=(10, 30),
                trial_dau=(10, 30),
                groups=(3, 20),
                weekend=0.2,
                calls=Calls(
                    sessions=(1, 3),
                    participants=(2, 2),
                    minutes=(2, 10),
                    video_share=0.5,
                    resolutions={"hd": 1},
                ),
                ai_tasks=(1, 3),
            ),
        ),
    ),
    AccountPlan(
        name="Quillstone Education",
        email="ops@quillstone.example",
        apps=(
            AppPlan(
                1400000107,
                "Quillstone Classroom",
                "cn",
                rhythm="school",
                dau=(300, 500),
                trial_dau=(30, 80),
                groups=(78_000, 90_000),
                weekend=0.4,
                groups_spike=True,
                steps=(
                    Step("edition", "pro", 1),
                    Step("addon", "im.addon.calls.basic", 2),
                    Step("addon", "im.addon.groups_per_user.pro", 2),
                ),
                moderation=Moderation(
                    texts=(15_000, 30_000),
                    images=(1_000, 3_000),
                    audio_clips=(5, 15),
                    video_clips=(3, 8),
                ),
                calls=Calls(
                    sessions=(8, 14),
                    participants=(5, 25),
                    minutes=(30, 50),
                    video_share=0.85,
                    resolutions=CN_VIDEO,
                ),
            ),
            AppPlan(
                1400000108,
                "Quillstone Live",
                "intl",
                rhythm="school",
                dau=(200, 350),
                trial_dau=(30, 80),
                groups=(5_000, 8_000),
                weekend=0.5,
                steps=(
                    Step("edition", "ultimate", 2),
                    Step("addon", "im.addon.group_members.ultimate", 3),
                    Step("addon", "im.addon.message_history.ultimate.180d", 3),
                ),
                calls=Calls(
                    sessions=(4, 8),
                    participants=(3, 12),
                    minutes=(40, 90),
                    video_share=0.9,
                    resolutions={"fhd": 3, "2k": 2, "4k": 2},
                ),
            ),
            AppPlan(
                1400000109,
                "Quillstone Labs",
                "cn",
                rhythm="school",
                dau=(15, 50),
                trial_dau=(15, 50),
                groups=(5, 30),
                weekend=0.3,
                moderation=Moderation(
                    texts=(100, 400),
                    images=(10, 30),
                    audio_clips=(1, 3),
                    video_clips=(1, 2),
                ),
                calls=Calls(
                    sessions=(1, 3),
                    participants=(2, 4),
                    minutes=(5, 20),
                    video_share=0.5,
                    resolutions={"sd": 1, "hd": 1},
                ),
            ),
        ),
    ),
)

# Spike days depend on the calendar only (not on --days or on the day the command runs), so
# the content of a day never changes between runs: one 2-day DAU spike every 45 days, one
# group-count peak every 37 days.
DAU_SPIKE_PERIOD = 45
GROUP_SPIKE_PERIOD = 37


def is_dau_spike(day: dt.date, sdkappid: int) -> int:
    """0 on a normal day, 1 on the first (higher) spike day, 2 on the second one."""
    phase = (day.toordinal() + sdkappid) % DAU_SPIKE_PERIOD
    return phase + 1 if phase < 2 else 0


def is_group_spike(day: dt.date, sdkappid: int) -> bool:
    return (day.toordinal() + sdkappid) % GROUP_SPIKE_PERIOD == 0


# --------------------------------------------------------------------------------------------
# Usage generation: one application, one day
# --------------------------------------------------------------------------------------------


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


# --------------------------------------------------------------------------------------------
# The command
# --------------------------------------------------------------------------------------------


@dataclass
class Totals:
    accounts: int = 0
    accounts_new: int = 0
    applications: int = 0
    applications_new: int = 0
    accepted: int = 0
    duplicates: int = 0
    closed: int = 0  # events of months whose invoice is finalized that are not stored


class Command(BaseCommand):
    help = (
        "Create demo accounts, applications, editions, add-ons, resource packs and --days days "
        "of usage ending yesterday. Idempotent: a second run creates nothing. Prints one "
        "summary line on stdout; progress goes to stderr."
    )

    def add_arguments(self, parser):
        parser.add_argument("--days", type=int, default=60, help="days of usage (default 60)")
        parser.add_argument("--customer-email", default="demo@example.com")
        parser.add_argument("--customer-password", default="demo-customer-pw")
        parser.add_argument("--seed", type=int, default=7, help="random seed (default 7)")

    def progress(self, message: str) -> None:
        self.stderr.write(message, style_func=str)

    def handle(self, *args, days, customer_email, customer_password, seed, **options):
        if not 1 <= days <= MAX_DAYS:
            raise CommandError(f"--days must be between 1 and {MAX_DAYS}; got {days}.")
        customer_email = (customer_email or "").strip().lower()
        try:
            validate_email(customer_email)
        except ValidationError:
            raise CommandError(
                f"--customer-email: {customer_email!r} is not an e-mail address."
            ) from None
        if not customer_password:
            raise CommandError("--customer-password must not be empty.")
        try:
            price_book_loaded = Edition.objects.filter(code="trial").exists()
        except DatabaseError as error:
            raise CommandError(
                f"The database is not ready ({error}): run `manage.py migrate` first."
            ) from None
        if not price_book_loaded:
            raise CommandError("The reference price book is missing: run `manage.py migrate`.")

        yesterday = billing_today() - ONE_DAY
        start = yesterday - dt.timedelta(days=days - 1)
        totals = Totals()
        accounts: list[tuple[AccountPlan, Account, list]] = []
        for plan in PLANS:
            email = plan.email or customer_email
            account, apps = self._account_ensure(
                plan, email, customer_password, start, yesterday, totals
            )
            accounts.append((plan, account, apps))
            self.progress(
                f"account {account.name} ({email}): "
                + ", ".join(f"{app.sdkappid} {app.region}" for _, app in apps)
            )
        for _plan, _account, apps in accounts:
            for _app_plan, application in apps:
                application.refresh_from_db()
                terms_renew(application=application, day=yesterday)

        for plan, account, apps in accounts:
            self._usage_ingest(plan, account, apps, start, yesterday, seed, totals)

        self.stdout.write(
            f"accounts {totals.accounts} ({totals.accounts_new} new), "
            f"applications {totals.applications} ({totals.applications_new} new), "
            f"events accepted {totals.accepted}, duplicates {totals.duplicates}"
            + (f", not stored (month closed) {totals.closed}" if totals.closed else "")
        )

    # ---- accounts, applications and what they bought ----------------------------------------

    def _account_ensure(self, plan, email, password, start, yesterday, totals):
        try:
            with transaction.atomic():
                account = (
                    Account.objects.filter(
                        name=plan.name,
                        memberships__user__username=email,
                        memberships__role=Membership.Role.OWNER,
                    )
                    .order_by("pk")
                    .first()
                )
                if account is None:
                    account = account_create(name=plan.name, email=email, password=password)
                    totals.accounts_new += 1
                totals.accounts += 1
                apps = []
                for app_plan in plan.apps:
                    application = Application.objects.filter(sdkappid=app_plan.sdkappid).first()
                    if application is None:
                        application = self._application_setup(account, app_plan, start, yesterday)
                        totals.applications_new += 1
                    elif application.account_id != account.pk:
                        raise CommandError(
                            f"SDKAppID {app_plan.sdkappid} belongs to account "
                            f"{application.account} (id {application.account_id}), not to the "
                            f"demo account {plan.name}: seed an empty database, or remove that "
                            "application."
                        )
                    totals.applications += 1
                    apps.append((app_plan, application))
        except (BillingError, AccountError) as error:
            raise CommandError(
                f"Setting up the demo account {plan.name} failed: {error} Nothing of this "
                "account was saved. Check that the price book is migrated, then run seed_demo "
                "again (on an empty database if the data was changed by hand)."
            ) from None
        return account, apps

    def _application_setup(self, account, plan: AppPlan, start, yesterday) -> Application:
        application = application_create(
            account=account,
            name=plan.name,
            region=plan.region,
            created_on=start,
            sdkappid=plan.sdkappid,
        )
        for step in plan.steps:
            planned = yesterday if step.offset is None else start + dt.timedelta(step.offset)
            if planned > yesterday and step.optional:
                continue
            day = min(planned, yesterday)
            # What the daily job would have renewed by then.
            terms_renew(application=application, day=day)
            if step.kind == "edition":
                edition_change(application=application, edition_code=step.code, effective=day)
            elif step.kind == "addon":
                addon_subscribe(application=application, item_code=step.code, day=day)
            elif step.kind == "pack":
                resource_pack_purchase(application=application, item_code=step.code, day=day)
            else:  # pragma: no cover - a typo in PLANS
                raise ValueError(f"unknown step kind {step.kind!r}")
        return application

    # ---- usage -------------------------------------------------------------------------------

    def _usage_ingest(self, plan, account, apps, start, yesterday, seed, totals) -> None:
        # A month whose invoice is finalized takes no more usage, not even duplicates
        # (period_closed): its events are counted as duplicates when stored, never sent.
        closed_months = set(
            Invoice.objects.filter(account=account)
            .exclude(state=Invoice.State.DRAFT)
            .values_list("month", flat=True)
        )
        timelines = {application.sdkappid: _timeline(application) for _, application in apps}
        days = (yesterday - start).days + 1
        batch = MAX_BATCH
        buffer: list = []
        accepted_before, duplicates_before = totals.accepted, totals.duplicates
        for index in range(days):
            day = start + dt.timedelta(index)
            for app_plan, application in apps:
                created_on, edition_of = timelines[application.sdkappid]
                if day < created_on:
                    continue  # the application did not exist yet
                events = day_events(app_plan, day, edition_of(day), (day - created_on).days, seed)
                if month_start(day) in closed_months:
                    stored = set(
                        UsageEvent.objects.filter(
                            application=application, billing_day=day
                        ).values_list("event_id", flat=True)
                    )
                    known = sum(1 for event in events if event["id"] in stored)
                    totals.duplicates += known
                    totals.closed += len(events) - known
                    continue
                buffer += events
                while len(buffer) >= batch:
                    self._ingest(buffer[:batch], totals)
                    del buffer[:batch]
            if index + 1 == days and buffer:
                self._ingest(buffer, totals)
            if (index + 1) % 10 == 0 or index + 1 == days:
                self.progress(
                    f"  {plan.name}: usage to {day} ({index + 1}/{days} days): "
                    f"{totals.accepted - accepted_before} accepted, "
                    f"{totals.duplicates - duplicates_before} duplicates"
                )

    def _ingest(self, events: list, totals: Totals) -> None:
        try:
            result = usage_events_ingest(events=events, caller=SYSTEM)
        except IngestionRejected as rejected:
            details = "; ".join(_error_text(events, error) for error in rejected.errors[:3])
            if rejected.conflict:
                hint = (
                    "Events with these ids were stored before with other content: run with the "
                    "--seed of the first run, or seed an empty database."
                )
            elif rejected.period_closed:
                hint = (
                    "The invoice of that month is finalized: seed an empty database, or fewer "
                    "--days so the history stays in months still open."
                )
            else:
                hint = "This is a bug in seed_demo or in the ingestion; report it."
            raise CommandError(
                f"Usage ingestion refused a batch ({len(rejected.errors)} error(s): {details}). "
                f"{hint}"
            ) from None
        totals.accepted += result.accepted
        totals.duplicates += result.duplicates


def _timeline(application: Application):
    """The application's first day and a look-up of its edition code on a day."""
    periods = list(
        EditionPeriod.objects.filter(application=application)
        .select_related("edition")
        .order_by("starts_on")
    )
    created_on = periods[0].starts_on

    def edition_of(day: dt.date) -> str:
        code = periods[0].edition.code
        for period in periods:
            if period.starts_on <= day:
                code = period.edition.code
        return code

    return created_on, edition_of


def _error_text(events: list, error) -> str:
    """One ingestion error, naming the event unless the message already does."""
    event_id = events[error.index].get("id") if 0 <= error.index < len(events) else None
    if event_id and event_id not in error.message:
        return f"{event_id}: {error.field}: {error.message}"
    return error.message
