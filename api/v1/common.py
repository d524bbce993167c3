"""What the bank's JSON API routers share: the keyring of personal-data encryption."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from api.deps import get_app_settings
from creditbank.identity.tokens import keyring_for
from creditbank.kit.crypto import Keyring


def get_keyring(request: Request) -> Keyring:
    return keyring_for(get_app_settings(request))


KeyringDep = Annotated[Keyring, Depends(get_keyring)]
