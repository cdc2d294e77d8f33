/**
 * Display names are chosen by peers, so they are never proof of identity: two keys that *look* alike by name
 * must be told apart on screen. This module says when two names look the same (`nameKey`), which names a
 * node may announce (`nameProblem`), and how a name from the network is cleaned before anyone shows it
 * (`shownName`). Pure: no I/O besides loading the confusables table once, on first use.
 */
import { createRequire } from 'node:module'

/** The longest display name, in UTF-16 code units (as the schema counts). */
export const MAX_NAME_LENGTH = 64

/**
 * Characters that start a line, turn text around or hide themselves: C0/C1 controls and DEL, line and
 * paragraph separators, bidi controls, lone surrogates, and the zero-width code points (the default-
 * ignorable ones, and the format controls that are not but show as nothing: interlinear annotation
 * U+FFF9-U+FFFB, Egyptian hieroglyph controls). The joiners (U+200C, U+200D), variation selectors and
 * emoji tag characters are allowed: emoji and several scripts need them, and `nameKey` ignores them anyway.
 */
const HIDDEN =
  /[\p{Cc}\p{Zl}\p{Zp}\p{Bidi_Control}\p{Cs}\ufff9-\ufffb\u{13430}-\u{1343f}]|(?!\u200c|\u200d|[\ufe00-\ufe0f]|[\u{e0020}-\u{e007f}]|[\u{e0100}-\u{e01ef}])\p{Default_Ignorable_Code_Point}/u
const HIDDEN_ALL = new RegExp(HIDDEN.source, 'gu')
/** Everything `nameKey` ignores: the hidden characters above, joiners and selectors included. */
const IGNORED =
  /[\p{Cc}\p{Zl}\p{Zp}\p{Bidi_Control}\p{Cs}\ufff9-\ufffb\u{13430}-\u{1343f}\p{Default_Ignorable_Code_Point}]/gu
/** Runs of anything that shows as blank space (NFKC already made most spaces U+0020). */
const BLANK = /[\p{White_Space}\u2800]+/gu
/**
 * What frames a name on screen, `<bob>`, and joins a fingerprint to it, `bob~r4kq-2xbm`, with every
 * character that reads as one of them by its compatibility form or the look-alike table (`＜`, `›`, `∼`,
 * `˜`, `〜`, `≪`...). A name holding one could pass for a fingerprint label or end itself early. Letters
 * that look like them (Canadian syllabics `ᐸ`, `ᐳ`) are allowed in a name of their script: refusing them
 * would refuse it (see `LETTER_MARK`).
 */
const LABEL_MARK =
  /[<>~\u02c2\u02c3\u02dc\u1fc0\u2039\u203a\u2053\u223c\u2241\u226a\u226b\u226e\u226f\u22d6-\u22d9\u2368\u276e\u276f\u2a20\u2a6a\u2aa5\u2e1e\u2e1f\u301c\ufe64\ufe65\uff1c\uff1e\uff5e\u{1d236}\u{1d237}]/u
const LABEL_MARK_ALL = new RegExp(LABEL_MARK.source, 'gu')
/**
 * Letters of other scripts that look like `<` or `>` (Canadian syllabics `ᐸ` `ᐳ`, runic `ᚲ`, Miao `𖼿`,
 * Coptic `Ⲵ`): in a name of their own script they are letters; beside Latin letters they can only be
 * there to end a name early (`<aliceᐳ revoke my access>`), and count as label marks.
 */
const LETTER_MARK = /[\u1433\u1438\u16b2\u2cb4\u{16f3f}]/u
const LETTER_MARK_ALL = new RegExp(LETTER_MARK.source, 'gu')
/**
 * `[xxxx-xxxx]`, how a short fingerprint follows a name on screen (`connected to bob [r4kq-2xbm]`), in any
 * letters or digits (look-alikes of the fingerprint's own included) and with any dash: a name holding one
 * could show a fingerprint of someone else's before its own. Brackets otherwise are fine (`[afk] bob`).
 * Matched on the name's compatibility form, hidden characters left out (`［ab\u200bcd－efgh］` too).
 */
const FINGERPRINT_LABEL = /\[\s?[\p{L}\p{N}]{4}\s?[-\u2010-\u2015\u2212\u2043]\s?[\p{L}\p{N}]{4}\s?\]/u

function holdsFingerprintLabel(name: string): boolean {
  return (
    (name.includes('[') || name.includes('\uff3b')) &&
    FINGERPRINT_LABEL.test(name.normalize('NFKC').replace(IGNORED, ''))
  )
}

/** The scripts those letters belong to: Canadian syllabics, runic, Coptic, Miao. */
const MARK_SCRIPTS = /[\p{Script=Canadian_Aboriginal}\p{Script=Runic}\p{Script=Coptic}\p{Script=Miao}]/gu

/**
 * A letter that looks like `<` or `>` in a name that also holds letters of another script (Latin, or
 * Cyrillic and Greek look-alikes of Latin): see `LETTER_MARK`.
 */
function mixedLetterMark(name: string): RegExpExecArray | null {
  const mark = LETTER_MARK.exec(name)
  return mark && /\p{L}/u.test(name.replace(MARK_SCRIPTS, '')) ? mark : null
}

/**
 * Why `name` cannot be announced, or undefined when it can: 1-64 characters, not blank, none that start
 * a line, turn text around or hide, and none that frame names on screen (see above). `--name` and `/nick`
 * check it.
 * @example nameProblem('bob\u200b') // 'a name must not contain ... (it has U+200B)'
 */
export function nameProblem(name: string): string | undefined {
  // Counted as the wire counts them, in UTF-16 units: a character past U+FFFF takes two, and an emoji of several code points (a flag, a skin tone) more.
  if (name.length > MAX_NAME_LENGTH)
    return `a name is at most ${MAX_NAME_LENGTH} characters, an emoji counting as two or more (this one counts ${name.length})`
  if (name.length < 1 || name.replace(BLANK, '') === '')
    return `a name is 1-${MAX_NAME_LENGTH} printable characters`
  return hiddenCharacterProblem(name) ?? labelMarkProblem(name) ?? fingerprintLabelProblem(name)
}

function fingerprintLabelProblem(name: string): string | undefined {
  return holdsFingerprintLabel(name)
    ? 'a name must not contain [xxxx-xxxx]: that is how a fingerprint follows a name on screen'
    : undefined
}

function labelMarkProblem(name: string): string | undefined {
  const mark = LABEL_MARK.exec(name) ?? mixedLetterMark(name)
  return mark
    ? `a name must not contain <, > or ~, nor a character that looks like one: they frame names and fingerprints on screen (it has ${codeOf(mark[0])})`
    : undefined
}

function hiddenCharacterProblem(name: string): string | undefined {
  const hidden = HIDDEN.exec(name)
  return hidden
    ? `a name must not contain control, line-break, bidi or invisible characters (it has ${codeOf(hidden[0])})`
    : undefined
}

/**
 * What a peer's hello is refused for: a control character (a newline among them), which no release let
 * `--name` or `/nick` include, or nothing visible at all. The other hidden characters, and `<`, `>` and
 * `~`, were allowed by earlier releases, so a hello carrying them is accepted and its name cleaned
 * (`shownName`) instead.
 */
export function peerNameProblem(name: string): string | undefined {
  const control = /\p{Cc}/u.exec(name)
  if (control) return `a name must not contain control characters (it has ${codeOf(control[0])})`
  if (shownName(name, '') === '') return 'a name must have a visible character'
  return undefined
}

function codeOf(ch: string): string {
  return `U+${ch.codePointAt(0)!.toString(16).toUpperCase().padStart(4, '0')}`
}

/**
 * A name from the network as it may be shown: hidden characters removed, a control, a line break, a lone
 * surrogate or a character that frames names on screen (`<`, `>`, `~` and their look-alikes) made a visible U+FFFD,
 * blank runs made one space. Names that old releases (or a hostile peer) signed into a relayed message
 * cannot be refused without punishing the honest relay, so they are cleaned instead. An empty result
 * falls back to `fallback` (the start of the id).
 * @example shownName('alice~jbwp-tsxb', 'ab12cd34') // 'alice\ufffdjbwp-tsxb', not a fingerprint label
 */
export function shownName(name: string, fallback: string): string {
  const mixed = mixedLetterMark(name) !== null
  if (
    !HIDDEN.test(name) &&
    !LABEL_MARK.test(name) &&
    !mixed &&
    !/^\s|\s$|\s\s|\u2800/u.test(name) &&
    name !== '' &&
    !holdsFingerprintLabel(name)
  )
    return name
  let cleaned = (mixed ? name.replace(LETTER_MARK_ALL, '\ufffd') : name)
    .replace(/[\p{Cc}\p{Zl}\p{Zp}\p{Cs}]/gu, '\ufffd')
    .replace(LABEL_MARK_ALL, '\ufffd')
    .replace(HIDDEN_ALL, '')
    .replace(BLANK, ' ')
    .trim()
  // Its brackets made visible marks, so it reads as no fingerprint.
  if (holdsFingerprintLabel(cleaned)) cleaned = cleaned.replace(FINGERPRINT_BRACKETS, '\ufffd')
  return cleaned === '' ? fallback : cleaned
}

/**
 * A peer's free text (its `bye` reason, the reason its `gone` presence carries) as a status line may hold
 * it: each run of blank space one space, as in a name, so padding cannot push what follows to the start of
 * the next row of a terminal, where it would read as a line of its own (`<alice> …`, `parley: …`).
 */
export function oneSpaced(text: string): string {
  return text.replace(/[\p{White_Space}\u2800\u3164\uffa0]+/gu, ' ').trim()
}

/** Every character whose compatibility form is a square bracket. */
const FINGERPRINT_BRACKETS = /[[\]\uff3b\uff3d]/g

/**
 * Whether two names are written the same once compatibility forms and case are folded (`ALICE`, `ａｌｉｃｅ`
 * and `alice`): a check that needs no look-alike table. `nameKey` sees through look-alikes too.
 */
export function sameWrittenName(a: string, b: string): boolean {
  return a === b || a.normalize('NFKC').toLowerCase() === b.normalize('NFKC').toLowerCase()
}

/**
 * What a name looks like, for comparison: two names with the same key are the same name to a reader.
 * NFKC (`ｂｏｂ` is `bob`), hidden and ignorable characters removed, blank runs made one space, case
 * folded first so that case never matters (`ALICE` is `alice`), then the UTS #39 confusable skeleton,
 * twice, as look-alikes have look-alikes (Cyrillic `о` is Latin `o`, `I` is `l`, `rn` is `m`).
 * Deliberately generous: a false match costs a fingerprint on screen. As `I` is `l` and case does not
 * matter, `i` is `l` too.
 * @example nameKey('Bоb\u200b') === nameKey('bob') // true
 */
export function nameKey(name: string): string {
  let key = keys.get(name)
  if (key === undefined) {
    const visible = name.normalize('NFKC').replace(IGNORED, '').replace(BLANK, ' ').trim()
    key = skeleton(skeleton(foldCase(visible)))
    // Every same-name check compares against all members: each name is keyed once, not once per check.
    if (keys.size >= KEY_CACHE) keys.clear()
    keys.set(name, key)
  }
  return key
}

/** One case for every spelling of a letter: `ẞ`, `ß` and `SS` are all `ss`, final `ς` is `σ`. */
function foldCase(text: string): string {
  return text.toLowerCase().toUpperCase().toLowerCase()
}

const KEY_CACHE = 4096
const keys = new Map<string, string>()

/** Ids of `others` (not `peer` itself) that show the same name as `peer` by `nameKey`. */
export function namesakes(
  peer: { readonly id: string; readonly name: string },
  others: Iterable<{ readonly id: string; readonly name: string }>,
): string[] {
  // The key (and the look-alike table behind it) only once there is another member to compare with: a
  // node's first link compares nothing.
  let key: string | undefined
  const ids = new Set<string>()
  for (const other of others) {
    if (other.id === peer.id || ids.has(other.id)) continue
    key ??= nameKey(peer.name)
    if (nameKey(other.name) === key) ids.add(other.id)
  }
  return [...ids]
}

let prototypes: Readonly<Record<string, string>> | undefined

/**
 * UTS #39 skeleton of case-folded text, in lowercase: NFD, each code point replaced by its confusable
 * prototype, NFD again. The table is Unicode's confusables.txt as the `unhomoglyph` package ships it,
 * loaded on first use (it is 100 KB), and used as it is parsed: copying its 6,000 entries into a Map
 * doubled what the first name shown cost.
 */
function skeleton(text: string): string {
  // Plain ASCII needs only the table's ASCII entries: most names are, and the whole table is not loaded
  // for them (a few milliseconds before the first message of a one-shot run is shown).
  let table = ASCII_PROTOTYPES
  if (!ASCII.test(text)) {
    prototypes ??= lookAlikes()
    table = prototypes
  }
  let out = ''
  for (const ch of text.normalize('NFD')) out += prototypeOf(ch, table)
  return out.normalize('NFD')
}

/**
 * The table tells cases apart (Greek `Β` is `B` but `β` is `ß`; `I` is `l`, `i` is nothing), so a letter
 * takes its own prototype when that is plain ASCII, else its capital's: `σ` is `o`, `β` is `b`, `i` is `l`.
 * A letter whose two cases look like two Latin letters (Greek `ν` and `Ν`) matches its small form's.
 */
function prototypeOf(ch: string, table: Readonly<Record<string, string>>): string {
  const own = Object.hasOwn(table, ch) ? table[ch]!.toLowerCase() : ch
  if (own !== ch && ASCII.test(own)) return own
  const capital = ch.toUpperCase()
  return capital !== ch && Object.hasOwn(table, capital) ? table[capital]!.toLowerCase() : own
}

const ASCII = /^[\0-\x7f]*$/

/** The whole look-alike table, Unicode's confusables.txt as the `unhomoglyph` package ships it. */
export function lookAlikes(): Readonly<Record<string, string>> {
  return createRequire(import.meta.url)('unhomoglyph/data.json') as Record<string, string>
}

/**
 * The look-alike table's entries for ASCII characters, the only ones `prototypeOf` reads for ASCII text
 * (a character's own entry and its capital's). A test checks them against the whole table.
 */
export const ASCII_PROTOTYPES: Readonly<Record<string, string>> = {
  '0': 'O',
  '1': 'l',
  '`': "'",
  '"': "''",
  '|': 'l',
  I: 'l',
  '%': 'º/₀',
  m: 'rn',
}
