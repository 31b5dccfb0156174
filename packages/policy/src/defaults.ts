/**
 * Paths every group protects from writes unless it allows them explicitly (a file rule with action
 * "allow" and the same path). A trailing "/" covers a directory's direct children; a trailing "*"
 * covers the children whose name starts with what precedes it.
 */
export const DEFAULT_PROTECTED_PATHS: readonly string[] = Object.freeze([
  '/etc/passwd',
  '/etc/shadow',
  '/etc/sudoers*',
  '/bin/',
  '/sbin/',
  '/usr/bin/',
  '/usr/sbin/',
]);
