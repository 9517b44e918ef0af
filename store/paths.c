#include "paths.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

int sb_path_join(char *out, size_t cap, const char *dir, const char *name)
{
    int n = snprintf(out, cap, "%s/%s", dir, name);
    return n < 0 || (size_t)n >= cap ? -ENAMETOOLONG : 0;
}

int sb_default_data_dir(char *out, size_t cap)
{
    const char *dir = getenv("SB_DATA_DIR");
    if (dir != NULL && dir[0] != '\0') {
        int n = snprintf(out, cap, "%s", dir);
        return n < 0 || (size_t)n >= cap ? -ENAMETOOLONG : 0;
    }
    const char *xdg = getenv("XDG_DATA_HOME");
    if (xdg != NULL && xdg[0] == '/')
        return sb_path_join(out, cap, xdg, "switchboard");
    const char *home = getenv("HOME");
    if (home == NULL || home[0] == '\0')
        return -ENOENT;
    int n = snprintf(out, cap, "%s/.local/share/switchboard", home);
    return n < 0 || (size_t)n >= cap ? -ENAMETOOLONG : 0;
}
