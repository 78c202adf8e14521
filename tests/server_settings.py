"""Settings of the Patchbay servers that tests start as processes (tests/browser): the real settings, with the
fast password hasher that pytest's own process gets from config.settings under TESTING.

Those servers must not see PYTEST_VERSION (they would not start the embedded executor), so they cannot take
TESTING's shortcut; without this every seeded user and every login of a browser test costs a PBKDF2 hash.
"""

from config.settings import *  # noqa: F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
