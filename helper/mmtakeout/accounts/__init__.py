"""Known archives kept up to date without a click: the config of archives, stored logins, scheduled sync.

`remember.remember_server` is the one call a front end (the CLI's `login --out`, the native host's
"keep me backed up") needs: it stores the token in the OS keyring and registers the archive for sync.
"""
