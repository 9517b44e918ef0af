#pragma once
/* Where Switchboard keeps its files by default, shared by the server and sbctl. */

#include <stddef.h>

/**
 * The default data directory: $SB_DATA_DIR, else $XDG_DATA_HOME/switchboard,
 * else $HOME/.local/share/switchboard. Returns 0 or -ENAMETOOLONG / -ENOENT
 * (no HOME).
 */
int sb_default_data_dir(char *out, size_t cap);

/** `dir`/`name` into out. Returns 0 or -ENAMETOOLONG. */
int sb_path_join(char *out, size_t cap, const char *dir, const char *name);

#define SB_SOCKET_NAME "switchboard.sock"
#define SB_ADMIN_TOKEN_NAME "admin.token"
