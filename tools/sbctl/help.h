#pragma once
/*
 * sbctl's help, made from the server's method table so that it cannot drift
 * from the protocol: a group's commands (sbctl org --help), did-you-mean for
 * a mistyped command or flag, an example for each command, the bash and zsh
 * completion scripts and the man page (sbctl --completion bash|zsh, sbctl
 * --man; checked in and installed, a test diffs them against the table).
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "methods.h"

/** "member.add_bulk" as typed: "member add-bulk". */
void sbctl_method_words(const char *method, char *out, size_t cap);

/** Prints the commands of group `noun` (sbctl NOUN --help). Returns false if there is no such
 * group. */
bool sbctl_help_group(const char *noun, FILE *out);

/** The command nearest to "noun verb" (a typo or two away), as "noun verb" in out; false if none
 * is near. */
bool sbctl_suggest_command(const char *noun, const char *verb, char *out, size_t cap);

/** The flag of `m` nearest to `flag` (without its dashes), or NULL. [borrowed: the table's] */
const char *sbctl_suggest_flag(const sb_method_t *m, const char *flag);

/** Prints an example line of `m` ("  sbctl member add --org acme ..."). */
void sbctl_help_example(const sb_method_t *m, FILE *out);

/** Prints the completion script for `shell` ("bash" or "zsh"). Returns false for another shell. */
bool sbctl_print_completion(const char *shell, FILE *out);

/** Prints the man page sbctl(1), in roff. */
void sbctl_print_man(FILE *out);
