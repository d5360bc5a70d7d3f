/** Printing a value as one word of a command the operator can paste into a shell. */

/** `text` as one shell word: as it is when no shell reads it otherwise, else single-quoted. */
export const shellWord = (text: string): string => (/^[\w@%+=:,./-]+$/.test(text) ? text : `'${text.replace(/'/g, `'\\''`)}'`)
