"""Access tokens over real HTTP: expired, forged, alg=none, HMAC confusion, retired key."""

from __future__ import annotations

import base64
import json
import time

import httpx
import jwt
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from creditbank.config import Settings
from creditbank.identity.tokens import issue_token, token_keys_for
from creditbank.kit import signing
from tests.identity.conftest import World, login


def _b64(data: dict[str, object]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


async def _me(client: httpx.AsyncClient, token: str) -> httpx.Response:
    return await client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {token}"})


async def _token_of(client: httpx.AsyncClient, world: World) -> str:
    headers = await login(client, "lina", world.password("lina"))
    return headers["Authorization"].removeprefix("Bearer ")


class TestAccessTokens:
    async def test_valid_token_works(self, client: httpx.AsyncClient, world: World):
        token = await _token_of(client, world)
        response = await _me(client, token)
        assert response.status_code == 200
        assert response.json()["username"] == "lina"
        header = jwt.get_unverified_header(token)
        assert header["alg"] == "EdDSA"
        assert header["kid"].startswith("at-")

    async def test_expired_token_refused(
        self, client: httpx.AsyncClient, world: World, settings: Settings
    ):
        token = await _token_of(client, world)
        claims = jwt.decode(token, options={"verify_signature": False})
        expired = issue_token(settings, {"sub": claims["sub"], "typ": "user"}, ttl_seconds=-60)
        response = await _me(client, expired)
        assert response.status_code == 401
        assert response.json()["error"] == "invalid_token"
        assert "expired" in response.json()["detail"]

    async def test_alg_none_refused(self, client: httpx.AsyncClient, world: World):
        token = await _token_of(client, world)
        claims = jwt.decode(token, options={"verify_signature": False})
        unsigned = f"{_b64({'alg': 'none', 'typ': 'JWT'})}.{_b64(claims)}."
        response = await _me(client, unsigned)
        assert response.status_code == 401
        assert response.json()["error"] == "invalid_token"

    async def test_forged_signature_refused(self, client: httpx.AsyncClient, world: World):
        token = await _token_of(client, world)
        claims = jwt.decode(token, options={"verify_signature": False})
        kid = jwt.get_unverified_header(token)["kid"]
        claims["roles"] = ["operator"]
        forged = jwt.encode(
            claims, Ed25519PrivateKey.generate(), algorithm="EdDSA", headers={"kid": kid}
        )
        assert (await _me(client, forged)).status_code == 401
        # Tampered payload with the original signature.
        head, _, sig = token.split(".")
        assert (await _me(client, f"{head}.{_b64(claims)}.{sig}")).status_code == 401

    async def test_hmac_with_public_key_refused(
        self, client: httpx.AsyncClient, world: World, settings: Settings
    ):
        token = await _token_of(client, world)
        claims = jwt.decode(token, options={"verify_signature": False})
        kid = jwt.get_unverified_header(token)["kid"]
        forged = jwt.encode(
            claims, "a-guessed-secret-key-long-enough-32b", algorithm="HS256", headers={"kid": kid}
        )
        assert (await _me(client, forged)).status_code == 401

    async def test_unknown_kid_refused(self, client: httpx.AsyncClient, world: World):
        token = await _token_of(client, world)
        claims = jwt.decode(token, options={"verify_signature": False})
        forged = jwt.encode(
            claims, Ed25519PrivateKey.generate(), algorithm="EdDSA", headers={"kid": "at-nope"}
        )
        assert (await _me(client, forged)).status_code == 401

    async def test_rotation_keeps_old_tokens_until_retired(
        self, client: httpx.AsyncClient, world: World, settings: Settings
    ):
        old_token = await _token_of(client, world)
        old_kid = jwt.get_unverified_header(old_token)["kid"]
        time.sleep(0.01)  # distinct file mtime
        new_kid = signing.rotate(settings, signing.ACCESS_TOKENS)
        new_token = await _token_of(client, world)
        assert jwt.get_unverified_header(new_token)["kid"] == new_kid
        assert (await _me(client, old_token)).status_code == 200
        signing.retire(settings, signing.ACCESS_TOKENS, old_kid)
        assert token_keys_for(settings).keys[old_kid].status == "retired"
        response = await _me(client, old_token)
        assert response.status_code == 401
        assert "retired" in response.json()["detail"]
        assert (await _me(client, new_token)).status_code == 200
        jwks = (await client.get("/oauth/jwks.json")).json()
        assert [k["kid"] for k in jwks["keys"]] == [new_kid]

    async def test_garbage_and_empty_bearer_refused(self, client: httpx.AsyncClient, world: World):
        for value in ("Bearer ", "Bearer not.a.jwt", "Bearer abc"):
            response = await client.get("/api/v1/auth/me", headers={"Authorization": value})
            assert response.status_code == 401, value


async def test_tokens_of_an_es256_key_work_and_keep_their_algorithm(
    client: httpx.AsyncClient, world: World, settings: Settings
):
    time.sleep(0.01)  # distinct file mtime
    kid = signing.rotate(settings, signing.ACCESS_TOKENS, algorithm="ES256")
    token = await _token_of(client, world)
    assert jwt.get_unverified_header(token) == {"alg": "ES256", "kid": kid, "typ": "JWT"}
    assert (await _me(client, token)).status_code == 200
    jwks = (await client.get("/oauth/jwks.json")).json()
    assert {"kid": kid, "kty": "EC", "crv": "P-256", "alg": "ES256"}.items() <= next(
        k for k in jwks["keys"] if k["kid"] == kid
    ).items()
