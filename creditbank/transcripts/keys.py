"""The transcript issuer's keys: one purpose of the bank's signing-key facility.

``creditbank keys init|rotate|list|retire --kind transcript-issuer`` manages them
(:mod:`creditbank.kit.signing`). Retired keys keep verifying: a transcript issued
years ago must still check out after the bank rotated.
"""

from __future__ import annotations

from creditbank.kit import signing
from creditbank.kit import sm2 as _sm2  # registers SM2 (the optional parallel signature)

#: What a VC-JWT may be signed with (PyJWT and every JOSE verifier know these).
JOSE_ALGORITHMS = frozenset({"RS256", "ES256", "EdDSA"})
#: The algorithm of the parallel SM2 signature (商用密码), never a VC-JWT's ``alg``.
SM2 = _sm2.NAME

TRANSCRIPT_ISSUER = signing.Purpose(
    name="transcript-issuer",
    kid_prefix="ti-",
    default_algorithm="RS256",
    path=lambda s: s.key_dir / "transcript-issuer-keys.json",
    retired_verifies=True,
    allowed_algorithms=JOSE_ALGORITHMS | {SM2},
    description="signed transcripts (VC-JWT, SD-JWT VC, SM2 beside); retired keys verify",
    # SD-JWT VCs are ES256 whatever algorithm the VC-JWTs use.
    companion_algorithms=("ES256",),
)
signing.register_purpose(TRANSCRIPT_ISSUER)
