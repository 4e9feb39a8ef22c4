"""The demo's design as data: three customer accounts, their applications in both regions,
what each buys and when, and how busy each is (``manage.py seed_demo``). Spike days depend on
the calendar only, so the content of a day never changes between runs."""

import datetime as dt
from dataclasses import dataclass

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
