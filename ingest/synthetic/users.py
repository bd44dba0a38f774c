"""Synthetic users: sign-up time, demographics, tastes (topics or communities), content-type taste, activity."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from ingest.synthetic import vocab
from ingest.synthetic.catalog import DAY_S, labels

TASTE_CONCENTRATION = 0.2  # Dirichlet alpha per topic or community: small = a user cares about a few
NEW_USER_SHARE = 0.22  # users who sign up inside the window; the rest up to three years before
AUDIOBOOK_ONLY_SHARE = 0.03
AUDIOBOOK_CURIOUS_SHARE = 0.27  # also listen to audiobooks; the rest are podcast-only
MEAN_LOG_ACTIVITY = np.log(14.0)  # engagements (distinct user-item episodes) over a full window
# Communities mode, per content type after podcasts (audiobook, audio_course): the share of users
# who use the type. Podcasts are the base habit; audio courses are a newer, smaller format.
NON_PODCAST_SHARE = 0.03  # users who never stream podcasts (they use audiobooks, maybe courses)
TYPE_ADOPTION = (0.28, 0.12)
# An adopter's weight on a type is Gamma(shape); podcasts weigh Gamma(3). With one extra type the
# extra type's share of engagements is Beta(2, 3), as in the topics mode.
PODCAST_WEIGHT_SHAPE = 3.0
OTHER_WEIGHT_SHAPE = 2.0
# Share of a further type's adopters (podcast-less users excepted) who take it up inside the
# window, on a uniform day; the rest used it before. Audiobooks and courses are newer formats that
# listeners are still discovering, so some podcast listeners start them during the window: the
# cross-type cold start (podcast history, no audiobook history yet).
NEW_ADOPTER_SHARE = 0.25


@dataclass(frozen=True)
class UserChunk:
    """A contiguous block of users, as arrays."""

    user_id: np.ndarray  # int64
    signup_day: np.ndarray  # float64 days since window start (negative: before the window)
    taste: np.ndarray  # (n, groups) float64 rows summing to 1: over topics or communities
    audiobook_share: np.ndarray  # float64 probability that an engagement is with an audiobook
    activity: np.ndarray  # float64 expected engagements over a full window
    country: np.ndarray  # int8 index into vocab.COUNTRIES
    age_bucket: np.ndarray  # int8 index into vocab.AGE_BUCKETS
    type_share: np.ndarray | None = None  # (n, types) engagement share per type (communities mode)
    type_start_day: np.ndarray | None = None  # (n, types) first day a user may use a type (communities mode)

    @property
    def size(self) -> int:
        """Number of users in the chunk."""
        return len(self.user_id)


def draw_users(rng: np.random.Generator, first_id: int, n: int, n_topics: int, days: int) -> UserChunk:
    """Draw ``n`` users with ids ``first_id .. first_id + n - 1``."""
    is_new = rng.random(n) < NEW_USER_SHARE
    signup_day = np.where(is_new, rng.random(n) * days, -rng.random(n) * 1095.0)
    taste = rng.dirichlet(np.full(n_topics, TASTE_CONCENTRATION), size=n)
    segment = rng.random(n)
    audiobook_share = np.where(
        segment < AUDIOBOOK_ONLY_SHARE,
        1.0,
        np.where(segment < AUDIOBOOK_ONLY_SHARE + AUDIOBOOK_CURIOUS_SHARE, rng.beta(2.0, 3.0, n), 0.0),
    )
    activity = rng.lognormal(MEAN_LOG_ACTIVITY, 0.9, n)
    return UserChunk(
        user_id=np.arange(first_id, first_id + n, dtype=np.int64),
        signup_day=signup_day,
        taste=taste,
        audiobook_share=audiobook_share,
        activity=activity,
        country=_choice(rng, vocab.COUNTRIES, n),
        age_bucket=_choice(rng, vocab.AGE_BUCKETS, n),
    )


def draw_community_users(
    rng: np.random.Generator, first_id: int, n: int, n_communities: int, n_types: int, days: int
) -> UserChunk:
    """Draw ``n`` users of the communities mode: sparse tastes over communities, a share per type.

    Sign-up, activity and demographics follow the topics mode. Every user has at least one type:
    podcasts (all but ``NON_PODCAST_SHARE``), and each further type with its ``TYPE_ADOPTION``
    probability; podcast-less users always use audiobooks (when there are two or more types).
    ``NEW_ADOPTER_SHARE`` of a further type's users start it on a day inside the window.
    """
    is_new = rng.random(n) < NEW_USER_SHARE
    signup_day = np.where(is_new, rng.random(n) * days, -rng.random(n) * 1095.0)
    taste = rng.dirichlet(np.full(n_communities, TASTE_CONCENTRATION), size=n)
    no_podcasts = (rng.random(n) < NON_PODCAST_SHARE) if n_types > 1 else np.zeros(n, bool)
    weight = np.zeros((n, n_types))
    weight[:, 0] = np.where(no_podcasts, 0.0, rng.gamma(PODCAST_WEIGHT_SHAPE, size=n))
    type_start_day = np.full((n, n_types), -np.inf)
    for t in range(1, n_types):
        adopts = rng.random(n) < TYPE_ADOPTION[t - 1]
        if t == 1:
            adopts |= no_podcasts
        weight[:, t] = np.where(adopts, rng.gamma(OTHER_WEIGHT_SHAPE, size=n), 0.0)
        late = (rng.random(n) < NEW_ADOPTER_SHARE) & ~(no_podcasts & (t == 1))
        type_start_day[:, t] = np.where(late, rng.random(n) * days, -np.inf)
    type_share = weight / weight.sum(axis=1, keepdims=True)
    activity = rng.lognormal(MEAN_LOG_ACTIVITY, 0.9, n)
    return UserChunk(
        user_id=np.arange(first_id, first_id + n, dtype=np.int64),
        signup_day=signup_day,
        taste=taste,
        audiobook_share=type_share[:, 1] if n_types > 1 else np.zeros(n),
        activity=activity,
        country=_choice(rng, vocab.COUNTRIES, n),
        age_bucket=_choice(rng, vocab.AGE_BUCKETS, n),
        type_share=type_share,
        type_start_day=type_start_day,
    )


def users_table(users: UserChunk, window_start_s: int) -> pa.Table:
    """Build the users rows of the contract for one chunk."""
    signup_s = window_start_s + np.round(users.signup_day * DAY_S).astype(np.int64)
    return pa.table(
        {
            "user_id": pa.array(users.user_id),
            "country": labels(users.country, tuple(code for code, _ in vocab.COUNTRIES)),
            "age_bucket": labels(users.age_bucket, tuple(code for code, _ in vocab.AGE_BUCKETS)),
            "signup_at": pa.array(signup_s * 1_000_000, type=pa.timestamp("us", tz="UTC")),
        }
    )


def _choice(rng: np.random.Generator, options: tuple[tuple[str, float], ...], n: int) -> np.ndarray:
    shares = np.array([share for _, share in options])
    return rng.choice(len(options), size=n, p=shares / shares.sum()).astype(np.int8)
