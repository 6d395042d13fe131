import hashlib
import hmac

from bot.signature import sign, verify

SECRET = "It's a Secret to Everybody"
BODY = b"Hello, World!"
EXPECTED = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"


def test_githubs_documented_vector() -> None:
    assert sign(SECRET, BODY) == EXPECTED
    assert verify(SECRET, BODY, EXPECTED)


def test_rejects_tampering_and_malformed_headers() -> None:
    assert not verify(SECRET, BODY + b" ", EXPECTED)
    assert not verify("another secret", BODY, EXPECTED)
    assert not verify(SECRET, BODY, None)
    assert not verify(SECRET, BODY, "")
    assert not verify(SECRET, BODY, EXPECTED.removeprefix("sha256="))
    assert not verify(SECRET, BODY, "sha1=" + EXPECTED.removeprefix("sha256="))
    assert not verify(SECRET, BODY, EXPECTED.upper())


def test_a_valid_sha1_signature_is_not_enough() -> None:
    # githubkit checks any header without `sha256=` as HMAC-SHA1; the receiver accepts SHA-256 only.
    sha1 = "sha1=" + hmac.new(SECRET.encode(), BODY, hashlib.sha1).hexdigest()
    assert not verify(SECRET, BODY, sha1)


def test_a_non_ascii_header_is_a_no_not_an_error() -> None:
    # Starlette decodes header bytes as latin-1; hmac.compare_digest raises TypeError on non-ASCII str.
    assert not verify(SECRET, BODY, "sha256=\u00e9" + EXPECTED.removeprefix("sha256=")[1:])
    assert not verify(SECRET, BODY, EXPECTED + "\u00e9")


def test_surrounding_whitespace_after_the_prefix_is_tolerated() -> None:
    assert verify(SECRET, BODY, EXPECTED + " \t")
    assert not verify(SECRET, BODY, " " + EXPECTED)
