"""Writes a configuration the way Python Gatekit 0.3 does: validated by its own loader (its
pydantic models and plugin JSON schemas), then saved by its own serializer.

Usage: write_config_gatekit03.py CONFIG_AS_JSON OUTPUT_PATH
"""
import json
import sys
from pathlib import Path

from gatekit.config.loader import ConfigLoader
from gatekit.config.persistence import save_config

config = json.loads(sys.argv[1])
out = Path(sys.argv[2])
save_config(out, ConfigLoader().load_from_dict(config, out.parent))
