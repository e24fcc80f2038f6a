-- Mattermost Takeout archive, format version 1 (PRAGMA user_version = 1).
-- Documented column by column in docs/archive-format.md: keep the two in step.
-- Every `raw` column holds the object exactly as the server returned it (JSON text).
-- Times are Mattermost times: milliseconds since the Unix epoch, UTC; 0 means "never / not set".

CREATE TABLE IF NOT EXISTS meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

CREATE TABLE IF NOT EXISTS teams (
    id           TEXT PRIMARY KEY,
    name         TEXT NOT NULL,
    display_name TEXT NOT NULL,
    delete_at    INTEGER NOT NULL DEFAULT 0,
    raw          TEXT NOT NULL
);

CREATE TABLE IF NOT EXISTS channels (
    id              TEXT PRIMARY KEY,
    team_id         TEXT NOT NULL DEFAULT '',
    type            TEXT NOT NULL,
    name            TEXT NOT NULL,
    display_name    TEXT NOT NULL DEFAULT '',
    header          TEXT NOT NULL DEFAULT '',
    purpose         TEXT NOT NULL DEFAULT '',
    create_at       INTEGER NOT NULL DEFAULT 0,
    delete_at       INTEGER NOT NULL DEFAULT 0,
    last_post_at    INTEGER NOT NULL DEFAULT 0,
    total_msg_count INTEGER NOT NULL DEFAULT 0,
    is_favorite     INTEGER NOT NULL DEFAULT 0,
    raw             TEXT NOT NULL
);

CREATE TABLE IF NOT EXISTS channel_members (
    channel_id TEXT NOT NULL,
    user_id    TEXT NOT NULL,
    PRIMARY KEY (channel_id, user_id)
);

CREATE TABLE IF NOT EXISTS posts (
    id         TEXT PRIMARY KEY,
    channel_id TEXT NOT NULL,
    root_id    TEXT NOT NULL DEFAULT '',
    user_id    TEXT NOT NULL DEFAULT '',
    create_at  INTEGER NOT NULL,
    update_at  INTEGER NOT NULL,
    edit_at    INTEGER NOT NULL DEFAULT 0,
    delete_at  INTEGER NOT NULL DEFAULT 0,
    message    TEXT NOT NULL DEFAULT '',
    type       TEXT NOT NULL DEFAULT '',
    is_pinned  INTEGER NOT NULL DEFAULT 0,
    raw        TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS posts_by_channel_time ON posts (channel_id, create_at, id);
CREATE INDEX IF NOT EXISTS posts_by_root ON posts (root_id, create_at) WHERE root_id <> '';

CREATE TABLE IF NOT EXISTS post_history (
    id          TEXT PRIMARY KEY,
    post_id     TEXT NOT NULL,
    message     TEXT NOT NULL,
    edit_at     INTEGER NOT NULL DEFAULT 0,
    replaced_at INTEGER NOT NULL,
    raw         TEXT NOT NULL,
    UNIQUE (post_id, replaced_at)
);

CREATE TABLE IF NOT EXISTS reactions (
    post_id    TEXT NOT NULL,
    user_id    TEXT NOT NULL,
    emoji_name TEXT NOT NULL,
    create_at  INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (post_id, user_id, emoji_name)
);

CREATE TABLE IF NOT EXISTS files (
    id             TEXT PRIMARY KEY,
    post_id        TEXT NOT NULL DEFAULT '',
    channel_id     TEXT NOT NULL DEFAULT '',
    user_id        TEXT NOT NULL DEFAULT '',
    name           TEXT NOT NULL,
    extension      TEXT NOT NULL DEFAULT '',
    size           INTEGER NOT NULL DEFAULT 0,
    mime_type      TEXT NOT NULL DEFAULT '',
    width          INTEGER,
    height         INTEGER,
    create_at      INTEGER NOT NULL DEFAULT 0,
    delete_at      INTEGER NOT NULL DEFAULT 0,
    status         TEXT NOT NULL DEFAULT 'pending',
    sha256         TEXT,
    path           TEXT,
    thumbnail_path TEXT,
    preview_path   TEXT,
    raw            TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS files_by_post ON files (post_id);

CREATE TABLE IF NOT EXISTS users (
    id                  TEXT PRIMARY KEY,
    username            TEXT NOT NULL,
    first_name          TEXT NOT NULL DEFAULT '',
    last_name           TEXT NOT NULL DEFAULT '',
    nickname            TEXT NOT NULL DEFAULT '',
    is_bot              INTEGER NOT NULL DEFAULT 0,
    delete_at           INTEGER NOT NULL DEFAULT 0,
    last_picture_update INTEGER NOT NULL DEFAULT 0,
    avatar_path         TEXT,
    avatar_etag         TEXT,
    avatar_sha256       TEXT,
    raw                 TEXT NOT NULL
);

CREATE TABLE IF NOT EXISTS emoji (
    id         TEXT PRIMARY KEY,
    name       TEXT NOT NULL,
    creator_id TEXT NOT NULL DEFAULT '',
    delete_at  INTEGER NOT NULL DEFAULT 0,
    path       TEXT,
    sha256     TEXT,
    raw        TEXT NOT NULL
);

CREATE TABLE IF NOT EXISTS sync_channels (
    channel_id       TEXT PRIMARY KEY,
    history_complete INTEGER NOT NULL DEFAULT 0,
    backfill_anchor  TEXT,
    backfill_page    INTEGER NOT NULL DEFAULT 0,
    since_cursor     INTEGER NOT NULL DEFAULT 0,
    synced_at        INTEGER NOT NULL DEFAULT 0,
    backfill_started_at INTEGER NOT NULL DEFAULT 0
);

CREATE TABLE IF NOT EXISTS sync_pending_users (
    user_id TEXT PRIMARY KEY
);

CREATE TABLE IF NOT EXISTS problems (
    kind      TEXT NOT NULL,
    item_id   TEXT NOT NULL,
    message   TEXT NOT NULL,
    first_at  INTEGER NOT NULL,
    last_at   INTEGER NOT NULL,
    PRIMARY KEY (kind, item_id)
);

CREATE TABLE IF NOT EXISTS runs (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    started_at  INTEGER NOT NULL,
    finished_at INTEGER,
    status      TEXT NOT NULL DEFAULT 'running',
    options     TEXT NOT NULL DEFAULT '{}',
    stats       TEXT NOT NULL DEFAULT '{}',
    tool_version TEXT NOT NULL DEFAULT ''
);
