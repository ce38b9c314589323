"""Fiat–Shamir transcript: determinism, framing, sampling ranges, grinding."""

from zkray.zkvm import field as F
from zkray.zkvm.transcript import Transcript


def test_same_calls_same_challenges_and_framing_matters():
    a, b = Transcript(b"p"), Transcript(b"p")
    for t in (a, b):
        t.absorb(b"x", b"hello")
    assert a.challenge_base(b"c") == b.challenge_base(b"c")
    c, d = Transcript(b"p"), Transcript(b"p")
    c.absorb(b"ab", b"c")
    d.absorb(b"a", b"bc")
    assert c.state != d.state
    assert Transcript(b"p").state != Transcript(b"q").state


def test_samples_are_in_range():
    t = Transcript(b"p")
    for i in range(50):
        assert 0 <= t.challenge_base(b"%d" % i) < F.P
        assert all(0 <= v < F.P for v in t.challenge_ext(b"e%d" % i))
    idx = t.challenge_indices(b"q", 200, 10)
    assert len(idx) == 200 and all(0 <= i < 1024 for i in idx) and len(set(idx)) > 100


def test_grinding_nonce_checks_and_a_wrong_one_fails():
    t = Transcript(b"p")
    nonce = t.grind(10)
    assert t.check_grind(10, nonce)
    failures = sum(not t.check_grind(10, nonce + k) for k in range(1, 40))
    assert failures >= 30  # each wrong nonce passes with probability 2^-10


def test_compiled_grinding_finds_the_same_nonce_as_the_hashlib_search():
    for i in range(4):
        t = Transcript(b"grind-%d" % i)
        t.absorb(b"x", bytes([i]) * 7)
        nonce = t.grind(12)
        reference = next(k for k in range(1 << 20) if t.check_grind(12, k))
        assert nonce == reference
