/**
 * Tags and group names. They are matched by target expressions (`tag:roof*`), so they may not
 * contain what the grammar gives meaning to: spaces, commas, quotes and glob characters.
 */
export const LABEL_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$/;

export function isValidLabel(label: string): boolean {
  return typeof label === 'string' && LABEL_PATTERN.test(label);
}

export const LABEL_RULE = '1-64 characters of letters, digits, "_", ".", ":" or "-", starting with a letter or digit';
