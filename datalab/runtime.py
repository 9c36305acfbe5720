"""The long-lived helpers every request needs, built once per app from the settings."""

from __future__ import annotations

from dataclasses import dataclass

from datalab.connectors.service import ConnectorRunner
from datalab.crypto import ConfigCipher
from datalab.passwords import PasswordHasher
from datalab.settings import Settings


@dataclass(frozen=True)
class Runtime:
    """Settings plus the password hasher, config cipher and connector pool they configure."""

    settings: Settings
    passwords: PasswordHasher
    cipher: ConfigCipher
    connectors: ConnectorRunner


def build_runtime(settings: Settings) -> Runtime:
    """Build the runtime for `settings`."""
    return Runtime(
        settings=settings,
        passwords=PasswordHasher(settings.bcrypt_rounds, settings.password_threads),
        cipher=ConfigCipher(settings.fernet_keys, settings.masked_config_cache_size),
        connectors=ConnectorRunner(settings),
    )
