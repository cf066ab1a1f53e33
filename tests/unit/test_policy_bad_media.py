"""Rule bad-media: the import of a complete torrent waits for its ffprobe check (VerifyMedia)."""

from __future__ import annotations

from qbarr.policy import Env, MediaCheck, TrackerRule
from tests.unit.policy_helpers import NOW, H, action, kinds, one, queue, seeding, settings

PENDING = queue(state="importPending", media=({"movieId": 3},))
ON = settings(verify_media=True)


def env(check: MediaCheck | None) -> Env:
    return Env(now=NOW, media={H(1): check} if check else {})


def test_without_verify_media_the_import_goes_out_at_once() -> None:
    d = one(seeding(), q=PENDING, env=env(None))
    assert d.rule == "import" and kinds(d) == ["import"]


def test_the_import_waits_until_the_check_has_been_asked_for_and_done() -> None:
    for check in (None, MediaCheck("pending", files=3, checked=1)):
        d = one(seeding(), q=PENDING, s=ON, env=env(check))
        assert (d.rule, d.code, d.actions) == ("wait", "media-check", ())
        assert d.memory.import_sent_at is None
    assert "1 of 3 files checked" in d.reason


def test_a_readable_torrent_is_imported_and_the_reason_says_it_was_checked() -> None:
    d = one(seeding(), q=PENDING, s=ON, env=env(MediaCheck("ok", files=2, checked=2)))
    assert d.rule == "import" and kinds(d) == ["import"]
    assert "media checked by ffprobe: 2 file(s) readable" in d.reason


def test_an_unreadable_file_fails_the_torrent_with_ffprobe_s_own_words() -> None:
    bad = MediaCheck(
        "bad", "Movie/Movie.mkv: moov atom not found; Invalid data", files=2, checked=2
    )
    d = one(seeding(), q=PENDING, s=ON, env=env(bad))
    assert (d.rule, d.code) == ("bad-media", "fail")
    assert kinds(d) == ["blocklist", "delete", "search"]
    assert action(d, "delete").params["delete_files"] is True
    assert "moov atom not found" in d.reason and "Movie/Movie.mkv" in d.reason
    assert "import" not in kinds(d)


def test_a_check_that_could_not_be_made_lets_the_import_go_ahead_and_says_so() -> None:
    check = MediaCheck("unchecked", "ffprobe not found on PATH")
    d = one(seeding(), q=PENDING, s=ON, env=env(check))
    assert d.rule == "import" and "media not checked: ffprobe not found" in d.reason


def test_no_check_for_what_would_not_be_imported() -> None:
    done = queue(state="imported")
    d = one(seeding(), q=done, s=ON, env=env(None))
    assert d.rule == "ok"
    d = one(seeding(), q=None, s=ON, env=env(None))
    assert d.rule == "ok"


def test_a_hit_and_run_obligation_holds_the_deletion_of_bad_media() -> None:
    hnr = TrackerRule(name="p", host="priv.example", hit_and_run=True, min_seed_ratio=1.0)
    s = settings(verify_media=True, trackers=(hnr,))
    t = seeding(tracker="https://priv.example/announce", ratio=0.1)
    d = one(t, q=PENDING, s=s, env=env(MediaCheck("bad", "x.mkv: no audio or video stream")))
    assert (d.rule, d.code) == ("bad-media", "hold-hnr")
    assert "delete" not in kinds(d) and "blocklist" in kinds(d)
