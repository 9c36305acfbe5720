"""Re-encrypting every stored config under the newest key, so that older keys can be retired."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from datalab.crypto import ConfigCipher, ConfigUnreadable
from shared_models import DataSource, Integration

BATCH = 500


@dataclass
class Rotation:
    """What a rotation did: rows re-encrypted, and the ids of rows no configured key opens."""

    rotated: dict[str, int] = field(default_factory=dict)
    unreadable: dict[str, list[int]] = field(default_factory=dict)


MODELS = (("data_source", DataSource), ("integration", Integration))


def count_configs(session: Session) -> int:
    """Return how many stored configs a rotation walks."""
    return sum(session.scalar(select(func.count()).select_from(model)) or 0 for _, model in MODELS)


def rotate_configs(
    session: Session,
    cipher: ConfigCipher,
    *,
    dry_run: bool = False,
    advance: Callable[[int], None] | None = None,
) -> Rotation:
    """Re-encrypt every data-source and integration config (deleted ones too) under the first key.

    Rows are read in batches of BATCH by id; unreadable rows are left as they are. The caller
    owns the transaction, so the whole rotation commits or none of it does. With `dry_run`
    nothing is written: the counts say what a real run would do. `advance(n)` is called as
    each batch of n rows is done.
    """
    rotation = Rotation()
    for name, model in MODELS:
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
                rotated += 1
                if dry_run:
                    continue
                # updated_at is set to itself: a new ciphertext is not a change of the source.
                session.execute(
                    update(model)
                    .where(model.id == row_id)
                    .values(config_encrypted=new_token, updated_at=model.updated_at)
                )
            last_id = rows[-1][0]
            if advance is not None:
                advance(len(rows))
        rotation.rotated[name] = rotated
        rotation.unreadable[name] = unreadable
    return rotation
