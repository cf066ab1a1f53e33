"""A generated media library for the Arr simulators.

Radarr: movies. Sonarr: series with seasons and episodes (season 0 holds the
specials). Lidarr: artists with albums. The same (kind, size, fractions,
seed) always gives the same library, so the Overseerr/Ombi simulator can
rebuild the ids a running Arr simulator uses without talking to it.

"Missing" and "cutoff unmet" follow the Arrs' own definitions (see
`is_missing`), and the wanted lists are cached per library version, so paging
a 10,000-item library costs a slice, not a scan.
"""

from __future__ import annotations

import random
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

UTC = UTC
DAY = timedelta(days=1)

ADJECTIVES = (
    "Silent",
    "Crimson",
    "Hidden",
    "Last",
    "Broken",
    "Golden",
    "Distant",
    "Frozen",
    "Burning",
    "Hollow",
    "Electric",
    "Wild",
    "Lost",
    "Quiet",
    "Midnight",
    "Iron",
    "Velvet",
    "Bright",
    "Secret",
    "Endless",
    "Northern",
    "Savage",
    "Glass",
    "Paper",
    "Restless",
    "Scarlet",
    "Shadow",
    "Sunken",
    "Twisted",
    "Wandering",
)
NOUNS = (
    "River",
    "Empire",
    "Garden",
    "Signal",
    "Harbor",
    "Orchard",
    "Machine",
    "Kingdom",
    "Lantern",
    "Frontier",
    "Station",
    "Mirror",
    "Valley",
    "Circuit",
    "Tide",
    "Letter",
    "Engine",
    "Forest",
    "Promise",
    "Horizon",
    "Island",
    "Witness",
    "Compass",
    "Canyon",
    "Archive",
    "Comet",
    "Fortress",
    "Meadow",
    "Voyage",
    "Parade",
)

# (id, name, source, resolution): ordered from worst to best
QUALITIES: dict[str, list[tuple[int, str, str, int]]] = {
    "radarr": [
        (1, "SDTV", "tv", 480),
        (4, "HDTV-720p", "tv", 720),
        (5, "WEBDL-720p", "webdl", 720),
        (6, "Bluray-720p", "bluray", 720),
        (3, "WEBDL-1080p", "webdl", 1080),
        (7, "Bluray-1080p", "bluray", 1080),
        (18, "WEBDL-2160p", "webdl", 2160),
        (19, "Bluray-2160p", "bluray", 2160),
    ],
    "sonarr": [
        (1, "SDTV", "television", 480),
        (4, "HDTV-720p", "television", 720),
        (5, "WEBDL-720p", "web", 720),
        (6, "Bluray-720p", "bluray", 720),
        (3, "WEBDL-1080p", "web", 1080),
        (7, "Bluray-1080p", "bluray", 1080),
        (18, "WEBDL-2160p", "web", 2160),
        (19, "Bluray-2160p", "bluray", 2160),
    ],
    "lidarr": [
        (1, "MP3-192", "", 0),
        (2, "MP3-VBR-V0", "", 0),
        (4, "MP3-320", "", 0),
        (6, "FLAC", "", 0),
        (21, "FLAC 24bit", "", 0),
    ],
}
# profile id -> (name, cutoff quality id)
PROFILES: dict[str, dict[int, tuple[str, int]]] = {
    "radarr": {1: ("Any", 4), 2: ("HD-1080p", 7), 3: ("Ultra-HD", 19)},
    "sonarr": {1: ("Any", 4), 2: ("HD-1080p", 7), 3: ("Ultra-HD", 19)},
    "lidarr": {1: ("Any", 4), 2: ("Lossless", 6)},
}
# profile id -> cutoffFormatScore: a file whose custom-format score is below it (and whose
# quality met the cutoff) is "custom format unmet"; 0 = the profile does not care.
CF_CUTOFF: dict[int, int] = {1: 0, 2: 100, 3: 100}
TAGS = ("4k", "kids", "anime", "requested")


def initial_cf_score(item_id: int) -> int:
    """The custom-format score of a generated file: deterministic, about a third below 100."""
    return (item_id * 37) % 160


@dataclass(slots=True)
class Parent:
    """A Sonarr series or a Lidarr artist."""

    id: int
    title: str
    sort_title: str
    monitored: bool
    year: int
    ended: bool
    profile_id: int
    added: datetime
    tags: list[int] = field(default_factory=list)


@dataclass(slots=True)
class Item:
    """A movie, an episode or an album: the unit that is missing or gets a file."""

    id: int
    parent_id: int  # series / artist id; 0 for a movie
    title: str
    sort_title: str
    monitored: bool
    released: datetime  # inCinemas / airDateUtc / releaseDate
    year: int
    profile_id: int
    added: datetime
    season: int = 0
    number: int = 0
    has_file: bool = False
    quality_id: int = 0
    file_id: int = 0
    file_added: datetime | None = None
    last_search: datetime | None = None
    tags: list[int] = field(default_factory=list)
    cf_score: int = 0


def tmdb_id(kind: str, item_or_parent_id: int) -> int:
    """The TMDB id of a movie (radarr) or of a series (sonarr): stable across processes."""
    return (100000 if kind == "radarr" else 200000) + item_or_parent_id * 3


def tvdb_id(series_id: int) -> int:
    return 300000 + series_id * 5


def episode_tvdb_id(episode_id: int) -> int:
    return 5000000 + episode_id


def _sort_title(title: str) -> str:
    low = title.lower()
    return low[4:] if low.startswith("the ") else low


class Library:
    """All media of one simulated Arr, with cached wanted lists."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self.items: dict[int, Item] = {}
        self.parents: dict[int, Parent] = {}
        self.version = 0
        self.lock = threading.RLock()
        self._cache: dict[tuple, list[Item]] = {}
        self._next_file_id = 1
        self._children: dict[int, list[Item]] | None = None

    # -- queries -----------------------------------------------------------

    def cutoff_of(self, item: Item) -> int:
        return PROFILES[self.kind][item.profile_id][1]

    def rank(self, quality_id: int) -> int:
        return [q[0] for q in QUALITIES[self.kind]].index(quality_id)

    def cutoff_met(self, item: Item) -> bool:
        return item.has_file and self.rank(item.quality_id) >= self.rank(self.cutoff_of(item))

    def cf_unmet(self, item: Item) -> bool:
        """Quality cutoff met but the file's custom-format score below cutoffFormatScore."""
        return self.cutoff_met(item) and item.cf_score < CF_CUTOFF.get(item.profile_id, 0)

    def set_profile(self, parent_or_item_ids: Iterable[int], profile_id: int) -> int:
        """The editor's quality-profile change: of movies (Radarr), or of series / artists and
        their episodes / albums. Returns how many were changed."""
        with self.lock:
            changed = 0
            for pid in parent_or_item_ids:
                if self.kind == "radarr":
                    if pid in self.items:
                        self.items[pid].profile_id = profile_id
                        changed += 1
                elif pid in self.parents:
                    self.parents[pid].profile_id = profile_id
                    for child in self.children(pid):
                        child.profile_id = profile_id
                    changed += 1
            self.version += 1
            return changed

    def effectively_monitored(self, item: Item) -> bool:
        parent = self.parents.get(item.parent_id)
        return item.monitored and (parent is None or parent.monitored)

    def is_missing(self, item: Item, now: datetime) -> bool:
        """Radarr: no file. Sonarr: aired, no file. Lidarr: released, no file."""
        if item.has_file:
            return False
        return self.kind == "radarr" or item.released <= now

    def wanted(self, which: str, monitored: bool, now: datetime | None = None) -> list[Item]:
        """The unsorted wanted list ('missing' or 'cutoff') for one monitored filter."""
        now = now or datetime.now(UTC)
        # Sonarr/Lidarr missing depends on the clock: cache per day (air dates are whole days).
        key = (which, monitored, self.version, now.date())
        with self.lock:
            cached = self._cache.get(key)
            if cached is None:
                if which == "missing":

                    def test(i: Item) -> bool:
                        return self.is_missing(i, now)
                else:

                    def test(i: Item) -> bool:
                        return i.has_file and not self.cutoff_met(i)

                cached = [
                    i
                    for i in self.items.values()
                    if test(i) and self.effectively_monitored(i) == monitored
                ]
                self._cache = {k: v for k, v in self._cache.items() if k[2] == self.version}
                self._cache[key] = cached
            return cached

    def page(
        self,
        which: str,
        monitored: bool,
        sort_key: str | None,
        direction: str,
        page: int,
        page_size: int,
    ) -> tuple[int, list[Item], str, str]:
        """(totalRecords, records of this page, sortKey used, sortDirection used)."""
        key_name, key_fn = self.sort_function(sort_key)
        direction = (
            direction
            if direction in ("ascending", "descending")
            else (
                "descending"
                if key_name in ("airDateUtc", "releaseDate", "inCinemas")
                else "ascending"
            )
        )
        cache_key = (
            which + ":sorted",
            monitored,
            self.version,
            datetime.now(UTC).date(),
            key_name,
            direction,
        )
        with self.lock:
            ordered = self._cache.get(cache_key)
            if ordered is None:
                ordered = sorted(
                    self.wanted(which, monitored), key=key_fn, reverse=direction == "descending"
                )
                self._cache[cache_key] = ordered
        start = max(0, (page - 1) * page_size)
        return len(ordered), ordered[start : start + page_size], key_name, direction

    def sort_function(self, sort_key: str | None) -> tuple[str, Callable[[Item], Any]]:
        """Map an Arr sortKey ('movieMetadata.sortTitle', 'episodes.airDateUtc', ...) to a key."""
        name = (sort_key or "").rsplit(".", 1)[-1].lower()

        def by_date(i: Item) -> object:
            return (i.released, i.id)

        def title(i: Item) -> object:
            return (i.sort_title, i.id)

        def parent_title(i: Item) -> object:
            return (
                self.parents[i.parent_id].sort_title if i.parent_id else "",
                i.season,
                i.number,
                i.id,
            )

        table: dict[str, tuple[str, Callable[[Item], object]]] = {
            "title": ("title", title),
            "sorttitle": ("sortTitle", title),
            "year": ("year", lambda i: (i.year, i.id)),
            "incinemas": ("inCinemas", by_date),
            "digitalrelease": ("digitalRelease", by_date),
            "physicalrelease": ("physicalRelease", by_date),
            "releasedate": ("releaseDate", by_date),
            "airdateutc": ("airDateUtc", by_date),
            "airdate": ("airDateUtc", by_date),
            "added": ("added", lambda i: (i.added, i.id)),
            "lastsearchtime": (
                "lastSearchTime",
                lambda i: (i.last_search or datetime.min.replace(tzinfo=UTC), i.id),
            ),
            "id": ("id", lambda i: i.id),
            "seriestitle": ("series.sortTitle", parent_title),
            "sortname": ("artists.sortName", parent_title),
            "artistname": ("artists.sortName", parent_title),
        }
        if name in table:
            return table[name]
        default = {"radarr": "sorttitle", "sonarr": "airdateutc", "lidarr": "releasedate"}[
            self.kind
        ]
        return table[default]

    def children(self, parent_id: int) -> list[Item]:
        """The episodes of a series / albums of an artist (index built once: the set never
        changes)."""
        if self._children is None:
            index: dict[int, list[Item]] = {}
            for item in self.items.values():
                index.setdefault(item.parent_id, []).append(item)
            self._children = index
        return list(self._children.get(parent_id, ()))

    # -- changes -----------------------------------------------------------

    def give_file(
        self,
        item_id: int,
        quality_id: int,
        now: datetime | None = None,
        cf_score: int | None = None,
    ) -> Item:
        """An import: the item gets a file of this quality and leaves wanted/missing (its
        custom-format score meets the profile's cutoffFormatScore unless given)."""
        with self.lock:
            item = self.items[item_id]
            item.has_file = True
            item.quality_id = quality_id
            item.cf_score = CF_CUTOFF.get(item.profile_id, 0) if cf_score is None else cf_score
            item.file_id = self._next_file_id
            item.file_added = now or datetime.now(UTC)
            self._next_file_id += 1
            self.version += 1
            return item

    def mark_searched(self, item_ids: Iterable[int], when: datetime) -> None:
        with self.lock:
            for item_id in item_ids:
                if item_id in self.items:
                    self.items[item_id].last_search = when
            self.version += 1

    def stats(self, now: datetime | None = None) -> dict[str, int]:
        return {
            "items": len(self.items),
            "parents": len(self.parents),
            "with_file": sum(1 for i in self.items.values() if i.has_file),
            "missing_monitored": len(self.wanted("missing", True, now)),
            "missing_unmonitored": len(self.wanted("missing", False, now)),
            "cutoff_monitored": len(self.wanted("cutoff", True, now)),
            "cutoff_unmonitored": len(self.wanted("cutoff", False, now)),
        }


# -- generation ---------------------------------------------------------------


def generate(
    kind: str,
    size: int,
    missing_fraction: float = 0.1,
    cutoff_fraction: float = 0.05,
    seed: int = 1,
    now: datetime | None = None,
) -> Library:
    """A deterministic library of `size` movies / episodes / albums."""
    now = (now or datetime.now(UTC)).replace(hour=0, minute=0, second=0, microsecond=0)
    rng = random.Random(f"{kind}:{seed}")
    lib = Library(kind)
    if kind == "radarr":
        _movies(lib, size, rng, now)
    elif kind == "sonarr":
        _series(lib, size, rng, now)
    elif kind == "lidarr":
        _albums(lib, size, rng, now)
    else:
        raise ValueError(f"no library for kind {kind!r}")
    _files(lib, rng, now, missing_fraction, cutoff_fraction)
    return lib


def _name(rng: random.Random, n: int) -> str:
    return (
        f"The {rng.choice(ADJECTIVES)} {rng.choice(NOUNS)}"
        if n % 3 == 0
        else (
            f"{rng.choice(ADJECTIVES)} {rng.choice(NOUNS)} {n % 7 + 1 if n % 5 == 0 else ''}"
        ).strip()
    )


def _movies(lib: Library, size: int, rng: random.Random, now: datetime) -> None:
    for movie_id in range(1, size + 1):
        future = rng.random() < 0.02
        released = (
            now + DAY * rng.randint(10, 400) if future else now - DAY * rng.randint(30, 365 * 40)
        )
        title = _name(rng, movie_id)
        lib.items[movie_id] = Item(
            id=movie_id,
            parent_id=0,
            title=title,
            sort_title=_sort_title(title),
            monitored=rng.random() < 0.95,
            released=released,
            year=released.year,
            profile_id=rng.choice((1, 2, 2, 2, 3)),
            added=now - DAY * rng.randint(1, 2000),
            tags=[1] if rng.random() < 0.05 else [],
        )


def _series(lib: Library, size: int, rng: random.Random, now: datetime) -> None:
    episode_id = 0
    series_id = 0
    while episode_id < size:
        series_id += 1
        title = _name(rng, series_id)
        seasons = rng.randint(1, 5)
        continuing = rng.random() < 0.2
        # a continuing series airs its last season around now, so some episodes are in the future
        first = now - DAY * (
            365 * (seasons - 1) + (rng.randint(0, 60) if continuing else rng.randint(200, 4000))
        )
        lib.parents[series_id] = Parent(
            id=series_id,
            title=title,
            sort_title=_sort_title(title),
            monitored=rng.random() < 0.95,
            year=first.year,
            ended=not continuing,
            profile_id=rng.choice((1, 2, 2, 3)),
            added=first,
            tags=[3] if rng.random() < 0.05 else [],
        )
        plan = [(0, rng.randint(0, 3))] + [(s, rng.randint(6, 12)) for s in range(1, seasons + 1)]
        for season, count in plan:
            for number in range(1, count + 1):
                if episode_id >= size:
                    break
                episode_id += 1
                if season == 0:
                    aired = first + DAY * rng.randint(0, 365 * seasons)
                else:
                    aired = first + DAY * (365 * (season - 1) + 7 * (number - 1))
                ep_title = f"Chapter {number}" if season else f"Special {number}"
                lib.items[episode_id] = Item(
                    id=episode_id,
                    parent_id=series_id,
                    title=ep_title,
                    sort_title=ep_title.lower(),
                    monitored=rng.random() < (0.4 if season == 0 else 0.97),
                    released=aired,
                    year=aired.year,
                    profile_id=lib.parents[series_id].profile_id,
                    added=first,
                    season=season,
                    number=number,
                )


def _albums(lib: Library, size: int, rng: random.Random, now: datetime) -> None:
    album_id = 0
    artist_id = 0
    while album_id < size:
        artist_id += 1
        name = f"{rng.choice(ADJECTIVES)} {rng.choice(NOUNS)}s"
        start = now - DAY * rng.randint(400, 365 * 30)
        lib.parents[artist_id] = Parent(
            id=artist_id,
            title=name,
            sort_title=_sort_title(name),
            monitored=rng.random() < 0.95,
            year=start.year,
            ended=rng.random() < 0.3,
            profile_id=rng.choice((1, 2)),
            added=start,
        )
        count = rng.randint(3, 12)
        for number in range(1, count + 1):
            if album_id >= size:
                break
            album_id += 1
            if rng.random() < 0.03:
                released = now + DAY * rng.randint(5, 300)
            else:
                released = start + (now - start) * (number / count) * rng.uniform(0.8, 0.99)
            title = _name(rng, album_id)
            lib.items[album_id] = Item(
                id=album_id,
                parent_id=artist_id,
                title=title,
                sort_title=_sort_title(title),
                monitored=rng.random() < 0.95,
                released=released,
                year=released.year,
                profile_id=lib.parents[artist_id].profile_id,
                added=start,
                number=number,
            )


def _files(
    lib: Library, rng: random.Random, now: datetime, missing_fraction: float, cutoff_fraction: float
) -> None:
    """Give files to everything released except the missing share; some below cutoff."""
    items = list(lib.items.values())
    target = round(len(items) * max(0.0, min(1.0, missing_fraction)))
    released = [i for i in items if i.released <= now]
    unreleased = len(items) - len(released)
    # Radarr counts unreleased movies as missing; Sonarr/Lidarr never do.
    want = max(0, target - (unreleased if lib.kind == "radarr" else 0))
    missing = set(i.id for i in rng.sample(released, min(want, len(released))))
    with_file = [i for i in released if i.id not in missing]
    upgradable = [i for i in with_file if lib.rank(lib.cutoff_of(i)) > 0]
    below = set(
        i.id
        for i in rng.sample(
            upgradable, min(round(len(items) * max(0.0, cutoff_fraction)), len(upgradable))
        )
    )
    order = [q[0] for q in QUALITIES[lib.kind]]
    for item in with_file:
        cutoff_rank = lib.rank(lib.cutoff_of(item))
        rank = (
            rng.randint(0, cutoff_rank - 1)
            if item.id in below
            else rng.randint(cutoff_rank, len(order) - 1)
        )
        item.has_file = True
        item.quality_id = order[rank]
        item.cf_score = initial_cf_score(item.id)
        item.file_id = lib._next_file_id
        item.file_added = min(now, item.released + DAY * rng.randint(1, 30))
        lib._next_file_id += 1
    lib.version += 1
