__version__ = "0.1.0"

# a predfail module whose optional dependencies are missing says which extra installs them (see predfail.extras)
from .extras import install_extras_hint as _install_extras_hint
_install_extras_hint()
