"""What a night does before it changes anything, under its run lock: check and tidy the state."""

from __future__ import annotations

import logging

from kaizenflow.pipeline.config import KaizenConfig
from kaizenflow.storage.health import prepare_night
from kaizenflow.storage.staging import remove_abandoned

logger = logging.getLogger(__name__)


def preflight(config: KaizenConfig) -> None:
    """Refuse damaged or lost state in one line (``StateDamagedError``), set aside derived stores
    that cannot be read, and remove the staged folders that killed nights left behind.

    Call it holding the run lock (``pipeline.locking.run_lock``): the lock is what makes every
    staged folder of a dead process safe to remove.
    """
    prepare_night(config.state_directory, config.state_url)
    removed = remove_abandoned(config.staging_directory)
    if removed:
        logger.warning("removed %d staged folder(s) that interrupted runs left in %s",
                       len(removed), config.staging_directory)
