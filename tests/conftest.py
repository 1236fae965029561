"""Test-wide settings: the suite runs offline."""

import os
import tempfile

# Tests never reach a model hub: loading by hub id must fail fast instead of hanging on the network.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
# alfworld writes ~/.cache/alfworld on import, and the ALFWorld env reads official games from $ALFWORLD_DATA when it
# holds them: pin it to an empty folder so the suite always plays the generated games and leaves $HOME alone.
os.environ["ALFWORLD_DATA"] = os.path.join(tempfile.gettempdir(), "hiper-tests-alfworld-data")
