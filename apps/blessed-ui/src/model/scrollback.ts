/**
 * What the message pane holds (messages, status lines, the read marker, catch-up rules) and how each entry
 * becomes screen rows. Apart from ChatModel so that the look of a line changes in one place, without
 * touching keys, commands or node events.
 */
import type { PeerInfo } from '@parley/core'
import { parseAction, terminalLine, terminalSafe } from '@parley/launcher'
import { type GraphemeWidth, textWidth } from '../text/width.js'
import { continuationIndent, type Row, type Span, type Style, TEXT, wrap } from './rows.js'

/** Sender colours: index into the view's palette. */
export const NICK_COLOURS = 12

export type Entry =
  | {
      readonly id: number
      readonly kind: 'message'
      readonly ts: number
      readonly from: PeerInfo
      /** The name shown: a name shared by two keys gets a fingerprint suffix (launcher's PeerLabels). */
      readonly label: string
      /** Grows when the next part of a line sent in parts (`more`) joins it. */
      body: string
      readonly own: boolean
      /** Says our name; a later part that joins it may make it so. */
      mention: boolean
      hidden?: boolean
    }
  | {
      readonly id: number
      readonly kind: 'system'
      readonly ts: number
      readonly level: 'info' | 'warn' | 'hint'
      readonly text: string
      hidden?: boolean
    }
  | { readonly id: number; readonly kind: 'marker'; readonly ts: number; hidden?: boolean }
  /** A rule above a catch-up: "12 messages from while you were away". */
  | {
      readonly id: number
      readonly kind: 'rule'
      readonly ts: number
      readonly text: string
      hidden?: boolean
    }

/** A stable palette index for a node id (FNV-1a), so a peer keeps its colour across sessions. */
export function nickColour(id: string): number {
  let hash = 0x811c9dc5
  for (let i = 0; i < id.length; i++) {
    hash ^= id.charCodeAt(i)
    hash = Math.imul(hash, 0x01000193) >>> 0
  }
  return hash % NICK_COLOURS
}

/** A horizontal rule across `cols` with `label` near its start: `─── new since 14:05 ─────`. */
export function ruleRow(label: string, cols: number, style: Style, width: GraphemeWidth): Row {
  const side = Math.max(0, Math.floor((cols - textWidth(label, width)) / 2))
  const text = '─'.repeat(Math.min(side, 3)) + label
  return (
    wrap([{ text: text + '─'.repeat(Math.max(0, cols - textWidth(text, width))), style }], cols, width)[0] ??
    []
  )
}

/** Lays out scrollback entries: `HH:MM:SS <name> text`, continuation lines indented under the text. */
export class EntryLayout {
  constructor(
    private readonly width: GraphemeWidth,
    private readonly time: (ts: number) => string,
  ) {}

  rows(entry: Entry, cols: number): Row[] {
    const stamp: Span = { text: `${this.time(entry.ts)} `, style: { kind: 'time' } }
    switch (entry.kind) {
      case 'marker':
        return [
          ruleRow(` new since ${this.time(entry.ts).slice(0, 5)} `, cols, { kind: 'marker' }, this.width),
        ]
      case 'rule':
        return [ruleRow(entry.text, cols, { kind: 'info' }, this.width)]
      case 'system': {
        const style: Style =
          entry.level === 'warn'
            ? { kind: 'warn' }
            : entry.level === 'hint'
              ? { kind: 'hint' }
              : { kind: 'info' }
        const mark = entry.level === 'warn' ? '!! ' : '-- '
        return this.lines([stamp, { text: mark, style }], entry.text, style, cols)
      }
      case 'message': {
        const colour = nickColour(entry.from.id)
        const name = terminalLine(entry.label)
        const action = parseAction(entry.body)
        if (action !== undefined) {
          const style: Style = { kind: 'action', colour }
          return this.lines([stamp, { text: ` * ${name} `, style }], action, style, cols)
        }
        const nick: Style = entry.own ? { kind: 'own' } : { kind: 'nick', colour }
        const text: Style = entry.mention ? { kind: 'mention' } : TEXT
        return this.lines([stamp, { text: `<${name}> `, style: nick }], entry.body, text, cols)
      }
      default: {
        const _exhaustive: never = entry
        return _exhaustive
      }
    }
  }

  /** A prefix, then text over one or more lines, each wrapped and indented under the text. */
  private lines(prefix: Span[], text: string, style: Style, cols: number): Row[] {
    const indent = prefix.reduce((n, s) => n + textWidth(s.text, this.width), 0)
    // The lines after the first start where its continuation rows do: never at column 0 (see `continuationIndent`).
    const under = ' '.repeat(continuationIndent(indent, cols))
    const rows: Row[] = []
    terminalSafe(text)
      .split('\n')
      .forEach((line, i) => {
        const spans =
          i === 0
            ? [...prefix, { text: line, style }]
            : [
                { text: under, style: TEXT },
                { text: line, style },
              ]
        rows.push(...wrap(spans, cols, this.width, indent))
      })
    return rows
  }
}
