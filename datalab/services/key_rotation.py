"""Re-encrypting every stored config under the newest key, so that older keys can be retired."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from datalab.crypto import ConfigCipher, ConfigUnreadable
from shared_models import DataSource, Integration

BATCH = 500


@dataclass
class Rotation:
    """What a rotation did: rows re-encrypted, and the ids of rows no configured key opens."""

    rotated: dict[str, int] = field(default_factory=dict)
    unreadable: dict[str, list[int]] = field(default_factory=dict)


def rotate_configs(session: Session, cipher: ConfigCipher) -> Rotation:
    """Re-encrypt every data-source and integration config (deleted ones too) under the first key.

    Rows are read in batches of BATCH by id; unreadable rows are left as they are. The caller
    owns the transaction, so the whole rotation commits or none of it does.
    """
    rotation = Rotation()
    for name, model in (("data_source", DataSource), ("integration", Integration)):
        rotated, unreadable, last_id = 0, [], 0
        while True:
            rows = session.execute(
                select(model.id, model.config_encrypted)
                .where(model.id > last_id)
                .order_by(model.id)
                .limit(BATCH)
            ).all()
            if not rows:
                break
            for row_id, token in rows:
                try:
                    new_token = cipher.rotate(token)
                except ConfigUnreadable:
                    unreadable.append(row_id)
                    continue
                # updated_at is set to itself: a new ciphertext is not a change of the source.
                session.execute(
                    update(model)
                    .where(model.id == row_id)
                    .values(config_encrypted=new_token, updated_at=model.updated_at)
                )
                rotated += 1
            last_id = rows[-1][0]
        rotation.rotated[name] = rotated
        rotation.unreadable[name] = unreadable
    return rotation
