"""The long-lived helpers every request needs, built once per app from the settings."""

from __future__ import annotations

from dataclasses import dataclass

from datalab.connectors.service import ConnectorRunner
from datalab.crypto import ConfigCipher
from datalab.passwords import PasswordHasher
from datalab.services.data_sources import SourceQuota
from datalab.settings import Settings
from datalab.storage import ObjectStore, open_storage


@dataclass(frozen=True)
class Runtime:
    """Settings plus the password hasher, config cipher, connector pool and object store they configure."""

    settings: Settings
    passwords: PasswordHasher
    cipher: ConfigCipher
    connectors: ConnectorRunner
    source_quota: SourceQuota
    storage: ObjectStore


def build_runtime(settings: Settings) -> Runtime:
    """Build the runtime for `settings`."""
    return Runtime(
        settings=settings,
        passwords=PasswordHasher(settings.security.bcrypt_rounds, settings.security.password_threads),
        cipher=ConfigCipher(settings.security.fernet_keys, settings.security.masked_config_cache_size),
        connectors=ConnectorRunner(settings),
        source_quota=SourceQuota(
            settings.connectors.max_sources_per_user, settings.connectors.config_max_bytes
        ),
        storage=open_storage(settings),
    )
