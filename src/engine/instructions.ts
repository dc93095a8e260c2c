/**
 * The offline engine's instruction language: a pure parser from a free-text
 * prompt to a list of operations, in prompt order. The vocabulary is listed in
 * docs/engine/README.md; this file is its source of truth.
 *
 * How it works: the prompt is normalised without changing its length (lower
 * case, punctuation to separators, quoted strings masked), then each rule, in
 * priority order, claims the spans it matches; a span already claimed by an
 * earlier rule cannot be claimed again (so "black and white" is never read as
 * "make it black"). Whatever no rule claimed is split into phrases; phrases
 * holding a word that is not filler become `unmatched`.
 */
import { COLOR_PATTERN, parseColor, type Rgb } from './colors.js';
import type { MergeLayout } from './ops/merge.js';
import type { TextOutline, TextPosition, TextSize, TextWeight } from './ops/text.js';
import type { GradientDirection, PatternKind, StripeDirection } from './ops/draw.js';

export type { GradientDirection, MergeLayout, PatternKind, StripeDirection, TextOutline, TextPosition, TextSize, TextWeight };

/**
 * One edit. `strength` fields are multipliers of the nominal intensity (1);
 * modifiers like "slightly" (0.5) or "a lot" (2) set them, and the n variants
 * scale them further.
 */
export type Op =
  | { kind: 'grayscale' }
  | { kind: 'sepia'; amount: number }
  | { kind: 'vintage'; strength: number }
  | { kind: 'temperature'; amount: number }
  | { kind: 'invert' }
  | { kind: 'blur'; sigma: number | null; strength: number }
  | { kind: 'sharpen'; strength: number }
  | { kind: 'brightness'; amount: number }
  | { kind: 'contrast'; amount: number }
  | { kind: 'saturation'; amount: number }
  | { kind: 'tint'; color: Rgb; colorName: string; amount: number }
  | { kind: 'recolor'; color: Rgb; colorName: string }
  | { kind: 'pixelate'; block: number | null; strength: number }
  | { kind: 'rotate'; degrees: number }
  | { kind: 'flip'; axis: 'horizontal' | 'vertical' }
  | {
      kind: 'text';
      text: string;
      position: TextPosition;
      /** null = the default (white) */
      color: Rgb | null;
      colorName: string | null;
      size: TextSize;
      weight: TextWeight;
      /** null = none (no outline, no shadow) */
      outline: TextOutline | null;
    }
  | { kind: 'remove-background' }
  | { kind: 'replace-background'; color: Rgb; colorName: string }
  | { kind: 'crop-square' }
  /** how the result meets an explicit output size: 'contain' (the default) letterboxes, 'cover' crops to fill */
  | { kind: 'fit'; mode: 'cover' | 'contain' }
  | { kind: 'zoom'; factor: number }
  | { kind: 'border'; color: Rgb; colorName: string; thickness: number | null; strength: number }
  | { kind: 'merge'; layout: MergeLayout }
  | { kind: 'fill'; target: string | null }
  // generations only (parseInstructions with `generation`): what is drawn on the empty canvas first
  | { kind: 'canvas'; color: Rgb; colorName: string }
  | { kind: 'gradient'; from: Rgb; fromName: string; to: Rgb; toName: string; direction: GradientDirection }
  | {
      kind: 'pattern';
      pattern: PatternKind;
      /** the stripes, the dark squares, the dots; null = whichever of black or white stands out from what is below */
      fg: Rgb | null;
      fgName: string | null;
      /** between them; null = the canvas below shows */
      bg: Rgb | null;
      bgName: string | null;
      direction: StripeDirection;
      /** "thin" 0.5, "thick" 2 */
      scale: number;
    };

export interface ParsedInstructions {
  ops: Op[];
  understood: boolean;
  /** phrases of the prompt that carry meaning but matched no rule, as written */
  unmatched: string[];
}

// ---------------------------------------------------------------------------
// normalisation

const QUOTE_OPEN = '\u0001';
const QUOTE_CLOSE = '\u0002';
const CLAIMED = '\u0003';

interface Normalised {
  norm: string;
  /** quoted strings by the index of their opening mark in `norm` */
  quotes: Map<number, string>;
}

const QUOTE_PAIRS: [string, string][] = [
  ['\u201c', '\u201d'], // “ ”
  ['\u201e', '\u201c'], // „ “
  ['\u2018', '\u2019'], // ‘ ’
  ['\u00ab', '\u00bb'], // « »
  ['"', '"'],
  ['`', '`'],
];

/** Same length as the input (UTF-16 units), so indices map straight back to the prompt. */
function normalise(prompt: string): Normalised {
  const s = prompt.split('');
  const masked = new Uint8Array(s.length);
  const quotes = new Map<number, string>();
  const mask = (start: number, end: number): void => {
    quotes.set(start, prompt.slice(start + 1, end));
    s[start] = QUOTE_OPEN;
    for (let k = start + 1; k < end; k++) s[k] = 'q';
    s[end] = QUOTE_CLOSE;
    masked.fill(1, start, end + 1);
  };
  for (let i = 0; i < prompt.length; i++) {
    const c = prompt[i]!;
    const pair = QUOTE_PAIRS.find(([open]) => open === c);
    if (pair) {
      const end = prompt.indexOf(pair[1], i + 1);
      if (end > i + 1) { mask(i, end); i = end; }
      continue;
    }
    // a single quote opens a quotation only at a word start and must close at a word end,
    // so apostrophes ("it's", "don't") are left alone
    if (c === "'" && (i === 0 || /[\s:(=,]/.test(prompt[i - 1]!)) && i + 1 < prompt.length && /\S/.test(prompt[i + 1]!)) {
      for (let j = i + 2; j < prompt.length; j++) {
        if (prompt[j] === "'" && (j + 1 === prompt.length || /[\s.,!?;:)]/.test(prompt[j + 1]!)) && /\S/.test(prompt[j - 1]!)) {
          mask(i, j);
          i = j;
          break;
        }
      }
    }
  }
  const digit = (k: number): boolean => /\d/.test(prompt[k] ?? '');
  for (let i = 0; i < s.length; i++) {
    if (masked[i]) continue;
    const c = s[i]!;
    const lower = c.toLowerCase();
    let out = lower.length === 1 ? lower : c;
    if (out === '-' || out === '_' || out === '\u2013' || out === '\u2014') out = ' ';
    else if ((out === '.' || out === ':') && digit(i - 1) && digit(i + 1)) out = c;
    else if (out === '.' || out === ';' || out === '!' || out === '?') out = ',';
    else if (/[:()[\]{}\n\r\t]/.test(out) || out === CLAIMED || out === QUOTE_OPEN || out === QUOTE_CLOSE) out = ' ';
    else if (out === '\u2019') out = "'";
    s[i] = out;
  }
  return { norm: numbersAsDigits(s.join('')), quotes };
}

const SMALL_NUMBERS: Record<string, number> = {
  zero: 0, one: 1, two: 2, three: 3, four: 4, five: 5, six: 6, seven: 7, eight: 8, nine: 9, ten: 10,
  eleven: 11, twelve: 12, thirteen: 13, fourteen: 14, fifteen: 15, sixteen: 16, seventeen: 17, eighteen: 18, nineteen: 19,
};
const TENS: Record<string, number> = { twenty: 20, thirty: 30, forty: 40, fifty: 50, sixty: 60, seventy: 70, eighty: 80, ninety: 90 };
const SMALL_WORD = Object.keys(SMALL_NUMBERS).sort((a, b) => b.length - a.length).join('|');
const TENS_WORD = Object.keys(TENS).join('|');
const UNIT_DIGIT = 'one|two|three|four|five|six|seven|eight|nine';
const BELOW_HUNDRED = `(?:(?:${TENS_WORD})(?:\\s+(?:${UNIT_DIGIT}))?|${SMALL_WORD})`;
const NUMBER_WORDS = new RegExp(
  `(?<![a-z0-9])(?:(?:(?:a|one|${UNIT_DIGIT})\\s+hundred)(?:\\s+(?:and\\s+)?${BELOW_HUNDRED})?|${BELOW_HUNDRED})(?![a-z0-9])`,
  'g',
);
/** a unit after the number: "one degree" is a number, "in one image" is not */
const UNIT_AFTER = /^\s*(?:%|percent|px|pixels?|°|deg(?:rees?)?|x(?![a-z])|times|points?|pt)/;

function wordsToNumber(words: string): number {
  let total = 0;
  let current = 0;
  for (const w of words.split(/\s+/)) {
    if (w === 'and') continue;
    if (w === 'hundred') current = (current || 1) * 100;
    else if (w === 'a') current = 1;
    else current += SMALL_NUMBERS[w] ?? TENS[w] ?? 0;
  }
  return total + current;
}

/**
 * "ninety degrees" → "90     degrees", "by five pixels" → "by 5    pixels",
 * "zoom in twice" → "zoom in 2x   ": number words become digits padded with
 * spaces, so the string keeps its length and indices still map to the prompt.
 * A lone "one" becomes 1 only before a unit ("one above the other" stays).
 */
function numbersAsDigits(norm: string): string {
  let out = norm.replace(NUMBER_WORDS, (m: string, offset: number) => {
    const value = wordsToNumber(m);
    if (!/\s/.test(m) && (m === 'one' || m === 'zero') && !UNIT_AFTER.test(norm.slice(offset + m.length))) return m;
    const digits = String(value);
    return digits.length <= m.length ? digits + ' '.repeat(m.length - digits.length) : m;
  });
  out = out.replace(/(?<=zoom(?:\s+in)?(?:\s+by)?\s+)twice(?![a-z])/g, '2x   ');
  return out;
}

// ---------------------------------------------------------------------------
// shared pattern pieces

const COLOR = COLOR_PATTERN;
const NUM = '\\d+(?:\\.\\d+)?';
const QUOTE = `${QUOTE_OPEN}q*${QUOTE_CLOSE}`;
const WEAK =
  'slight|slightly|subtle|a (?:little|tiny|wee)(?: (?:bit|tad))?(?: more)?|a (?:bit|tad|touch)(?: more)?|just a (?:bit|touch|little)|' +
  'subtly|somewhat|lightly|gently|mildly|a hint|barely|marginally|softly';
const STRONG =
  'a lot(?: more)?|lots|much(?: more)?|very|heavily|strongly|really|significantly|greatly|way(?: more)?|extremely|' +
  'super|seriously|massively|dramatically|intensely|hugely|far more|a great deal|considerably|quite a bit|highly|even more|heavy|strong|intense';
const MOD = `(?:${WEAK}|${STRONG})`;
const OBJ =
  '(?:it|(?:this|that)(?: (?:image|picture|photo|photograph|pic|shot|scene|one))?|them|everything|the (?:whole |entire )?(?:image|picture|photo|photograph|pic|shot|scene|frame)|' +
  'the colou?rs|the result|my (?:image|picture|photo))';
const MAKE = `(?:(?:make|get|render)\\s+${OBJ}\\s+(?:look\\s+)?|(?:turn|set)\\s+${OBJ}\\s+)`;
const AMOUNT =
  `(?:(?:by|to|at|of|with)\\s+)?(?:(?:a|an)\\s+)?(?:(?:radius|sigma|amount|strength|factor|level)\\s+(?:of\\s+)?)?` +
  `${NUM}\\s*(?:%|percent|px|pixels?|x|times)?`;
const POS_WORD = '(?:top|bottom|upper|lower|cent(?:er|re)(?:ed)?|middle|left|right)';
const POS =
  `(?:(?:at|in|on|along|across|to|near|into|toward|towards)\\s+)?(?:the\\s+)?(?:very\\s+)?${POS_WORD}` +
  `(?:\\s+(?:left|right|cent(?:er|re)|middle))?(?:\\s+(?:hand\\s+)?(?:corner|side|edge|part|area|half|portion|region)s?)?` +
  `(?:\\s+of\\s+${OBJ})?`;

/** A position before a caption must say "at/in/on the …", so "rotate left, add 'x'" keeps its "left". */
const LEAD_POS =
  `(?:at|in|on)\\s+the\\s+(?:very\\s+)?${POS_WORD}(?:\\s+(?:left|right|cent(?:er|re)|middle))?` +
  `(?:\\s+(?:hand\\s+)?(?:corner|side|edge|part|area|half)s?)?(?:\\s+of\\s+${OBJ})?`;

/** Whole words only: no letter, digit or '#' may touch the match. */
const rx = (source: string): RegExp => new RegExp(`(?<![a-z0-9#'])(?:${source})(?![a-z0-9])`, 'gd');

/** "slightly" → 0.5, "a lot" → 2, none → 1 (the first modifier found wins). */
function intensity(text: string): number {
  const weak = new RegExp(`(?<![a-z])(?:${WEAK})(?![a-z])`).exec(text);
  const strong = new RegExp(`(?<![a-z])(?:${STRONG})(?![a-z])`).exec(text);
  if (weak && (!strong || weak.index <= strong.index)) return 0.5;
  if (strong) return 2;
  return 1;
}

function numberIn(text: string): { value: number; unit: string } | null {
  const m = new RegExp(`(${NUM})\\s*(%|percent|px|pixels?|x|times|°|deg(?:rees?)?)?`).exec(text);
  if (!m) return null;
  return { value: Number(m[1]), unit: m[2] ?? '' };
}

function colorIn(text: string): { rgb: Rgb; name: string } | null {
  const m = new RegExp(`(?<![a-z0-9#])${COLOR}`).exec(text);
  return m ? parseColor(m[0]) : null;
}

/** A percentage-like amount: "30%" → 0.3, "1%" → 0.01, "30" → 0.3, "0.3" → 0.3. */
const fraction = (n: { value: number; unit: string }): number =>
  n.unit === '%' || n.unit === 'percent' || n.value > 1 ? n.value / 100 : n.value;

/** The text position named in `text` ("top", "bottom right", "centered at the top" = top). */
function positionIn(text: string): TextPosition | null {
  const found = [...text.matchAll(new RegExp(`(?<![a-z])${POS}`, 'g'))].map((m) => m[0]).join(' ');
  if (found === '') return null;
  const vert = /\b(?:top|upper)\b/.test(found) ? 'top' : /\b(?:bottom|lower)\b/.test(found) ? 'bottom' : null;
  const horiz = /\bleft\b/.test(found) ? 'left' : /\bright\b/.test(found) ? 'right' : null;
  if (vert && horiz) return `${vert}-${horiz}`;
  if (vert) return vert;
  if (horiz) return horiz;
  return 'center';
}

// ---------------------------------------------------------------------------
// rules

interface RuleContext {
  prompt: string;
  norm: string;
  quotes: Map<number, string>;
  /** where a caption goes when the prompt does not say: the bottom of an edited picture, the centre of a drawn one */
  textDefault: TextPosition;
}

interface Rule {
  name: string;
  re: RegExp;
  build: (m: RegExpExecArray, ctx: RuleContext) => Op[] | null;
}

/** A rule for an adjustment verb that may carry a modifier ("slightly") and an amount ("by 20%"). */
const adjustable = (core: string): RegExp =>
  rx(`(?:${MOD}\\s+)?(?:${MAKE})?(?:${MOD}\\s+)?(?:${core})(?:\\s+${OBJ})?(?:\\s+(?:up|down))?(?:\\s+${MOD})?(?:\\s+${AMOUNT})?`);

const TEXT_VERB = '(?:add|write|put|place|insert|overlay|type|print|draw|display|stamp|include|show|caption|label|title)';
const TEXT_NOUN =
  '(?:text|texts|words?|caption|title|label|heading|headline|message|slogan|tagline|quote|banner|sign|lettering|inscription|' +
  'poster|flyer|placard|card|billboard|signboard)';
const TEXT_SAY = '(?:saying|that says|which says|reading|that reads|which reads|of|with|:|=)';
const TEXT_SIZE =
  '(?:(?:very|really|extra|super)\\s+)?(?:tiny|small|smaller|little|medium(?:\\s+sized?)?|normal\\s+sized?|big|bigger|large|larger|huge|giant|enormous|massive|oversized)';
// "light blue" is a colour, not light letters
const TEXT_WEIGHT =
  `(?:(?:(?:extra|ultra)\\s+bold|heavy|bold(?:face)?|regular|normal|light(?![\\s-]+${COLOR})|thin)(?:\\s+(?:font\\s+)?weight)?)`;
const TEXT_CASE = '(?:all\\s+)?(?:caps|capitals|capital\\s+letters|upper\\s*case(?:\\s+letters)?)';
const TEXT_LETTERS = '(?:letters|lettering|text|font|type|typeface|characters|writing|print)';
const TEXT_OUTLINE =
  `(?:(?:no|without(?:\\s+(?:a|an|any))?)\\s+(?:outline|stroke)s?` +
  `|(?:(?:thick|thin|heavy|fine)\\s+)?(?:${COLOR}\\s+)?(?:outline|stroke)(?:\\s+(?:in|of)\\s+${COLOR})?` +
  `|outlined(?:\\s+in\\s+${COLOR})?)`;
/** a colour word that belongs to another instruction ("a blue tint", "black and white", "a red border") */
const NOT_TEXT_COLOR =
  '(?!\\s+(?:tint|cast|tone|hue|filter|overlay|glow|wash|shade|background|backdrop|bg|border|frame)(?![a-z]))(?!\\s*(?:and|&|n)\\s*white(?![a-z]))';
const TEXT_ADJ = `(?:${TEXT_SIZE}|${COLOR}${NOT_TEXT_COLOR}|colou?red|${TEXT_WEIGHT}|${TEXT_CASE})`;
/** One thing said about a caption's look or place: "red", "big", "bold", "letters", "with a black outline", "at the top". */
const TEXT_ATTR =
  `(?:${TEXT_OUTLINE}|colou?red\\s+${COLOR}|${COLOR}${NOT_TEXT_COLOR}(?:\\s+colou?r(?:ed)?)?|${TEXT_CASE}|${TEXT_SIZE}|${TEXT_WEIGHT}|${TEXT_LETTERS}|${POS})(?![a-z0-9])`;
const TEXT_CONNECTOR = '(?:in|with|using|at|on|as)';
/**
 * Attributes after a caption, in any order: "in big red letters at the top",
 * "bottom-right in white, with a black outline". "and" and commas join them
 * only where the next words clearly still describe the text, so "add 'x' and
 * make it red" stays two instructions.
 */
const TEXT_LINK =
  `(?:\\s*,\\s*(?=${TEXT_CONNECTOR}\\s|(?:${TEXT_SIZE}|${TEXT_WEIGHT}|${TEXT_CASE}|${COLOR}${NOT_TEXT_COLOR}|${POS})(?![a-z]))` +
  `|\\s+and\\s+(?=${TEXT_CONNECTOR}\\s|(?:${TEXT_SIZE}|${TEXT_WEIGHT})(?![a-z]))|\\s+)`;
const TEXT_ATTRS = `(?:${TEXT_LINK}(?:${TEXT_CONNECTOR}\\s+)?(?:(?:a|an|the)\\s+)?${TEXT_ATTR})*`;
const TEXT_LEAD =
  `(?:${TEXT_VERB}\\s+(?:${OBJ}\\s+)?(?:(?:the|a|an|some)\\s+)?(?:${TEXT_ADJ}\\s+){0,4}(?:${TEXT_NOUN}\\s+(?:${POS}\\s+)?)?(?:${TEXT_SAY}\\s+)?` +
  `|(?:(?:the|a|an|some)\\s+)?(?:${TEXT_ADJ}\\s+){0,4}${TEXT_NOUN}\\s+(?:${POS}\\s+)?(?:${TEXT_SAY}\\s+)?)`;

const TEXT_SIZES: [RegExp, TextSize][] = [
  [/(?:very|really|extra|super)\s+(?:small|little)|tiny/, 'tiny'],
  [/(?:very|really|extra|super)\s+(?:big|large)|huge|giant|enormous|massive|oversized/, 'huge'],
  [/small|smaller|little/, 'small'],
  [/big|bigger|large|larger/, 'large'],
];

/** The look of a caption from the words around it (`words` has the caption itself blanked out). */
function textStyleIn(words: string): Pick<Extract<Op, { kind: 'text' }>, 'color' | 'colorName' | 'size' | 'weight' | 'outline'> & { upper: boolean } {
  let rest = words;
  let outline: TextOutline | null = { color: null, colorName: null, width: 1 };
  const o = new RegExp(`(?<![a-z])${TEXT_OUTLINE}`).exec(rest);
  if (o) {
    if (/^(?:no|without)/.test(o[0])) outline = null;
    else {
      const c = colorIn(o[0]);
      const width = /^(?:thick|heavy)/.test(o[0]) ? 2 : /^(?:thin|fine)/.test(o[0]) ? 0.5 : 1;
      outline = { color: c ? c.rgb : null, colorName: c ? c.name : null, width };
    }
    rest = rest.slice(0, o.index) + ' '.repeat(o[0].length) + rest.slice(o.index + o[0].length);
  }
  const c = colorIn(rest);
  rest = rest.replace(new RegExp(`(?<![a-z0-9#])${COLOR}`, 'g'), (x) => ' '.repeat(x.length));
  const sized = (re: RegExp): boolean => new RegExp(`(?<![a-z])(?:${re.source})(?![a-z])`).test(rest);
  const size = TEXT_SIZES.find(([re]) => sized(re))?.[1] ?? 'medium';
  const w = new RegExp(`(?<![a-z])${TEXT_WEIGHT}(?![a-z])`).exec(rest)?.[0] ?? 'bold';
  const weight: TextWeight = /^(?:extra|ultra|heavy)/.test(w) ? 'black' : /^(?:regular|normal)/.test(w) ? 'regular' : /^(?:light|thin)/.test(w) ? 'light' : 'bold';
  const upper = new RegExp(`(?<![a-z])${TEXT_CASE}(?![a-z])`).test(rest);
  return { color: c ? c.rgb : null, colorName: c ? c.name : null, size, weight, outline, upper };
}

/** A caption op from a match: `text` spans [textStart, textEnd) of the prompt; the rest of the match describes it. */
function textOp(ctx: RuleContext, m: RegExpExecArray, text: string, textStart: number, textEnd: number): Op[] | null {
  if (text.trim() === '') return null;
  const end = m.index + m[0].length;
  const lead = ctx.norm.slice(m.index, textStart);
  const tail = ctx.norm.slice(textEnd, end);
  const position = positionIn(tail) ?? positionIn(lead) ?? ctx.textDefault;
  const { upper, ...style } = textStyleIn(`${lead} ${tail}`.replace(new RegExp(QUOTE, 'g'), ' '));
  return [{ kind: 'text', text: upper ? text.trim().toUpperCase() : text.trim(), position, ...style }];
}

const RULES: Rule[] = [
  {
    name: 'text (quoted)',
    re: rx(`(?:${LEAD_POS}\\s*,?\\s+)?${TEXT_LEAD}${QUOTE}${TEXT_ATTRS}`),
    build: (m, ctx) => {
      const open = ctx.norm.indexOf(QUOTE_OPEN, m.index);
      const close = ctx.norm.indexOf(QUOTE_CLOSE, open);
      const text = ctx.quotes.get(open);
      if (text === undefined) return null;
      return textOp(ctx, m, text, open, close + 1);
    },
  },
  {
    name: 'text (unquoted)',
    re: rx(
      `(?:${TEXT_VERB}\\s+(?:(?:the|a|an|some)\\s+)?(?:${TEXT_ADJ}\\s+){0,4}${TEXT_NOUN}|write|caption(?:\\s+it)?)\\s+(?:${TEXT_SAY}\\s+)?` +
        `([^\\s,${QUOTE_OPEN}${CLAIMED}]+(?:\\s+(?!(?:at|in|on|to|and|then|also|plus|with|across|along|using|as)\\s)[^\\s,${QUOTE_OPEN}${CLAIMED}]+){0,5}?)` +
        `(?=\\s+${POS}|\\s+${TEXT_CONNECTOR}\\s+(?:(?:a|an|the)\\s+)?${TEXT_ATTR}|\\s*,|\\s+(?:and|then|also|plus)\\s|\\s*$)${TEXT_ATTRS}`,
    ),
    build: (m, ctx) => {
      const idx = m.indices?.[1];
      if (!idx) return null;
      // a number word in the caption was shortened to digits in `norm`; take the whole word from the prompt
      let end = idx[1];
      while (end < ctx.prompt.length && /[\p{L}\p{N}]/u.test(ctx.prompt[end]!)) end++;
      const text = ctx.prompt.slice(idx[0], end);
      // "add a border", "write it in red": not captions
      if (/^(?:it|a|an|the|border|frame)$/i.test(text)) return null;
      return textOp(ctx, m, text, idx[0], idx[1]);
    },
  },
  {
    name: 'merge',
    re: rx(
      [
        `(?:merge|combine|join|stitch|compose|blend|mix|fuse)(?:\\s+(?:(?:the|these|those|my|both|all)\\s+(?:\\w+\\s+)?(?:images|pictures|photos|pics|inputs)|them|these|those|both|all|everything|(?:all|both)\\s+(?:of\\s+)?(?:them|these|the\\s+(?:\\w+\\s+)?(?:images|pictures|photos|inputs))|the\\s+(?:\\w+\\s+)?(?:images|pictures|photos|inputs)|(?:the\\s+)?(?:images|pictures|photos)))?` +
          `(?:\\s+together)?(?:\\s+(?:in|into|as|to)\\s+(?:one|a single|a|1|the same)\\s+(?:image|picture|photo|canvas|frame|collage|grid|composition))?` +
          `(?:\\s+(?:side by side|next to each other|in a row|horizontally|in a column|vertically|stacked|on top of each other|one above the other|in a grid|as a grid|as a collage|in a collage))?`,
        `(?:put|place|arrange|show|display|lay out|line up)\\s+(?:them|these|those|both|all|(?:all|both)\\s+(?:of\\s+)?(?:them|the\\s+(?:images|pictures|photos))|the\\s+(?:\\w+\\s+)?(?:images|pictures|photos))\\s+` +
          `(?:side by side|next to each other|in a row|horizontally|in a column|vertically|stacked|on top of each other|one above the other|in a grid|as a grid|as a collage|in a collage|together)`,
        `(?:make|create|build)\\s+(?:a|an)\\s+(?:collage|grid|montage|composite)(?:\\s+(?:of|from|with)\\s+(?:them|these|all|both|the\\s+(?:\\w+\\s+)?(?:images|pictures|photos)))?`,
        `stack(?:ed)?(?:\\s+(?:them|these|those|both|all|the\\s+(?:\\w+\\s+)?(?:images|pictures|photos)))?(?:\\s+(?:vertically|on top of each other|one above the other))?`,
        `collage|montage|side by side|next to each other|on top of each other|one above the other`,
      ].join('|'),
    ),
    build: (m) => {
      const t = m[0];
      const layout: MergeLayout = /side by side|next to each other|in a row|horizontally/.test(t)
        ? 'row'
        : /column|vertically|stacked|on top of each other|above/.test(t)
          ? 'column'
          : 'grid';
      return [{ kind: 'merge', layout }];
    },
  },
  {
    name: 'remove background',
    re: rx(
      [
        `(?:remove|delete|erase|drop|strip|cut out|cut away|get rid of|take out|take away|clear|eliminate|lose|ditch|knock out)\\s+(?:the\\s+|its\\s+|this\\s+)?(?:(?:white|plain|solid|uniform|flat|${COLOR})\\s+)?(?:background|backdrop|bg)(?:\\s+colou?r)?`,
        `(?:make|set|turn)\\s+(?:the\\s+)?(?:background|backdrop|bg)\\s+(?:transparent|clear|see through|invisible)`,
        `(?:(?:with|on|give it|add)\\s+)?(?:a\\s+)?transparent\\s+(?:background|backdrop|bg)`,
        `(?:cut out|isolate|extract)\\s+(?:the\\s+)?(?:subject|object|product|person|foreground)`,
        `(?:no|without)\\s+(?:a\\s+)?(?:background|backdrop|bg)`,
        `(?:replace|swap)\\s+(?:the\\s+)?(?:background|backdrop|bg)\\s+(?:with|for)\\s+(?:transparency|nothing)`,
      ].join('|'),
    ),
    build: () => [{ kind: 'remove-background' }],
  },
  {
    name: 'replace background',
    re: rx(
      [
        `(?:replace|change|swap|set|make|turn|paint|fill|switch|recolou?r|colou?r)\\s+(?:the\\s+)?(?:background|backdrop|bg)(?:\\s+colou?r)?(?:\\s+(?:with|to|into|for|by|as|in))?(?:\\s+(?:a|an|plain|solid|pure|flat)){0,2}\\s+${COLOR}(?:\\s+(?:background|backdrop|bg|colou?r|one))?`,
        `(?:(?:give|put|place|set)\\s+(?:it|the subject|this|the image)\\s+(?:on\\s+|against\\s+)?|(?:on|against|with)\\s+)?(?:a\\s+|an\\s+)?(?:(?:plain|solid|pure|flat)\\s+)?${COLOR}\\s+(?:background|backdrop|bg)`,
      ].join('|'),
    ),
    build: (m) => {
      const t = m[0].replace(/\b(?:background|backdrop|bg)\b/g, ' ');
      const c = colorIn(t);
      return c ? [{ kind: 'replace-background', color: c.rgb, colorName: c.name }] : null;
    },
  },
  {
    name: 'less saturation',
    re: adjustable(
      [
        `desaturate\\s+(?:${OBJ}\\s+)?(?:${WEAK}|by\\s+${NUM}\\s*%?)`,
        `(?:${WEAK})\\s+desaturated?`,
        `(?:less|reduce|reduced|lower|lowered|decrease|decreased|turn down|tone down|dial down)\\s+(?:the\\s+)?(?:saturation|colou?rs?|colou?r intensity|vibrance)`,
        `less saturated|less colou?rful|less vivid|less vibrant|muted(?:\\s+colou?rs?)?|mute\\s+(?:the\\s+)?colou?rs|washed out|faded(?:\\s+colou?rs?)?|undersaturated|pastel(?:\\s+colou?rs?)?`,
      ].join('|'),
    ),
    build: (m) => {
      const n = numberIn(m[0]);
      const amount = n ? -Math.min(1, fraction(n)) : -0.4 * (intensity(m[0]) === 0.5 ? 0.5 : intensity(m[0]) === 2 ? 1.75 : 1);
      return [{ kind: 'saturation', amount }];
    },
  },
  {
    name: 'grayscale',
    re: rx(
      `(?:${MAKE})?(?:(?:high|strong|hard)\\s+contrast\\s+)?(?:in\\s+)?(?:black\\s*(?:and|&|n|'n')\\s*white|b\\s*&\\s*w|b\\s*/\\s*w|gr[ae]y\\s*scaled?|monochrome|monochromatic|mono|noir|desaturated?|` +
        `(?:remove|drop|strip|take out|without|no)\\s+(?:the\\s+|all\\s+|any\\s+)?colou?rs?|colou?rless|gr[ae]y\\s+tones?|shades of gr[ae]y)` +
        `(?:\\s+(?:(?:high|strong|hard)\\s+contrast|photo|photograph|image|picture|version|style|filter|look|effect|tones?|mode))*`,
    ),
    build: (m) => {
      const ops: Op[] = [{ kind: 'grayscale' }];
      if (/(?:high|strong|hard)\s+contrast/.test(m[0])) ops.push({ kind: 'contrast', amount: 0.5 });
      return ops;
    },
  },
  {
    name: 'sepia',
    re: adjustable(`sepia(?:\\s+(?:tones?|toned|filter|effect|look|style|tint))?|(?:in|to)\\s+sepia`),
    build: (m) => [{ kind: 'sepia', amount: intensity(m[0]) === 0.5 ? 0.5 : 1 }],
  },
  {
    name: 'vintage',
    re: adjustable(
      `(?:vintage|retro|old[\\s]?(?:fashioned|school|timey|time)|old(?:er)?\\s+(?:photo|photograph|film|print|picture|look|style)|aged|antiqued?|nostalgic|` +
        `film\\s+(?:look|style|grain)|faded\\s+film|polaroid|analog(?:ue)?(?:\\s+film)?|(?:19)?[5-8]0s)(?:\\s+(?:look|style|effect|filter|feel|vibe|photo|tones?))*`,
    ),
    build: (m) => [{ kind: 'vintage', strength: intensity(m[0]) === 0.5 ? 0.5 : intensity(m[0]) === 2 ? 1.6 : 1 }],
  },
  {
    name: 'warm',
    re: adjustable(
      `warm(?:er|th)?(?:\\s+(?:it\\s+)?up)?(?:\\s+(?:tones?|colou?rs?|light|look|filter|feel))?|more\\s+warmth|golden\\s+hour(?:\\s+(?:light|look))?|sunnier|(?:add|increase)\\s+warmth`,
    ),
    build: (m) => {
      const n = numberIn(m[0]);
      return [{ kind: 'temperature', amount: n ? Math.min(1, fraction(n)) : 0.12 * intensity(m[0]) }];
    },
  },
  {
    name: 'cool',
    re: adjustable(
      `(?:cool|cold)(?:er)?(?:\\s+(?:it\\s+)?down)?(?:\\s+(?:tones?|colou?rs?|light|look|filter|feel))?|icy|chillier|more\\s+(?:blue\\s+)?coolness`,
    ),
    build: (m) => {
      const n = numberIn(m[0]);
      return [{ kind: 'temperature', amount: -(n ? Math.min(1, fraction(n)) : 0.12 * intensity(m[0])) }];
    },
  },
  {
    name: 'invert',
    re: rx(
      `(?:${MAKE})?(?:invert(?:ed)?(?:\\s+${OBJ})?(?:\\s+(?:the\\s+)?colou?rs?)?|(?:photo(?:graphic)?\\s+|colou?r\\s+)?negative(?:\\s+(?:image|effect|look|version))?|inverse(?:\\s+colou?rs?)?|colou?r\\s+inversion|reverse\\s+(?:the\\s+)?colou?rs)`,
    ),
    build: () => [{ kind: 'invert' }],
  },
  {
    name: 'blur',
    re: adjustable(
      `(?:(?:add|apply|give\\s+${OBJ})\\s+)?(?:(?:a|an|some)\\s+)?(?:(?:soft|gentle|light|subtle|slight|strong|heavy)\\s+)?(?:gaussian\\s+)?blur(?:red|ry|ring)?(?:\\s+(?:effect|filter))?|` +
        `defocus(?:ed)?|out\\s+of\\s+focus|unfocus(?:ed)?|soft\\s*focus|soften|softer|hazy`,
    ),
    build: (m) => {
      const n = numberIn(m[0]);
      // "a soft blur", "a gentle blur": adjectives intensity() does not know as modifiers
      const s = /(?<![a-z])(?:soft|gentle|light)\s+(?:gaussian\s+)?blur/.test(m[0]) ? 0.5 : intensity(m[0]);
      return [{ kind: 'blur', sigma: n && n.value > 0 ? Math.min(200, n.value) : null, strength: s === 2 ? 2.5 : s }];
    },
  },
  {
    name: 'sharpen',
    re: adjustable(
      `sharpen(?:ed)?|sharper|crisper|crisp|more\\s+detail(?:ed)?|more\\s+defined|(?:enhance|increase|boost)\\s+(?:the\\s+)?(?:details?|sharpness|definition)|unblur|deblur|clearer|less\\s+blurry`,
    ),
    build: (m) => [{ kind: 'sharpen', strength: intensity(m[0]) }],
  },
  {
    name: 'brighten',
    re: adjustable(
      `brighten(?:\\s+up)?|brighter|lighten(?:\\s+up)?|lighter|more\\s+(?:light|bright)|` +
        `(?:increase|raise|boost|turn up|bump up|up)\\s+(?:the\\s+)?(?:brightness|exposure|lightness)|(?:brightness|exposure)\\s+up|over\\s*exposed?|less\\s+dark`,
    ),
    build: (m) => {
      const n = numberIn(m[0]);
      return [{ kind: 'brightness', amount: n ? Math.min(1, fraction(n)) : 0.2 * intensity(m[0]) }];
    },
  },
  {
    name: 'darken',
    re: adjustable(
      `darken|darker|dimmer|dim(?:\\s+down)?|(?:decrease|reduce|lower|turn down|tone down)\\s+(?:the\\s+)?(?:brightness|exposure|lightness)|` +
        `(?:brightness|exposure)\\s+down|less\\s+bright|under\\s*exposed?|moodier|more\\s+dark`,
    ),
    build: (m) => {
      const n = numberIn(m[0]);
      return [{ kind: 'brightness', amount: -(n ? Math.min(0.95, fraction(n)) : 0.2 * intensity(m[0])) }];
    },
  },
  {
    name: 'more contrast',
    re: adjustable(
      `(?:more|increase|increased|boost|raise|higher|add|enhance|stronger|bump up|turn up|up|improve)\\s+(?:the\\s+)?contrast|contrast\\s+(?:up|boost(?:ed)?)|` +
        `(?:high|higher|strong|hard)\\s+contrast|contrasty|punchier|punchy|more\\s+contrasted`,
    ),
    build: (m) => {
      const n = numberIn(m[0]);
      return [{ kind: 'contrast', amount: n ? fraction(n) : 0.3 * intensity(m[0]) }];
    },
  },
  {
    name: 'less contrast',
    re: adjustable(
      `(?:less|reduce|reduced|decrease|decreased|lower|soften|lessen|turn down|tone down)\\s+(?:the\\s+)?contrast|(?:low|lower)\\s+contrast|contrast\\s+down|flatter|flat\\s+look`,
    ),
    build: (m) => {
      const n = numberIn(m[0]);
      return [{ kind: 'contrast', amount: -(n ? Math.min(1, fraction(n)) : 0.3 * Math.min(2, intensity(m[0]))) }];
    },
  },
  {
    name: 'more saturation',
    re: adjustable(
      `(?:more|increase|increased|boost|raise|higher|enhance|stronger|turn up|bump up|add|intensify)\\s+(?:the\\s+)?(?:saturation|vibrance|colou?rs?|colou?r intensity)|` +
        `saturated?|more\\s+saturated|over\\s*saturated?|(?:more\\s+)?(?:vivid|vibrant|colou?rful)|` +
        `(?:make\\s+)?(?:the\\s+)?colou?rs\\s+pop|richer\\s+colou?rs|pop(?:\\s+more)?`,
    ),
    build: (m) => {
      const n = numberIn(m[0]);
      return [{ kind: 'saturation', amount: n ? fraction(n) : 0.4 * intensity(m[0]) }];
    },
  },
  {
    name: 'tint',
    re: rx(
      [
        `(?:${MAKE})?(?:${MOD}\\s+)?tint(?:ed)?(?:\\s+${OBJ})?(?:\\s+${MOD})?(?:\\s+(?:with|in|to|toward|towards))?(?:\\s+(?:a|an))?(?:\\s+${MOD})?\\s+${COLOR}(?:\\s+${MOD})?`,
        `(?:(?:give|add|apply)(?:\\s+${OBJ})?\\s+)?(?:(?:a|an)\\s+)?(?:${MOD}\\s+)?${COLOR}(?:ish)?\\s+(?:tint|cast|tone|hue|filter|overlay|glow|wash|colou?r\\s+cast|shade)(?:\\s+(?:to|on)\\s+${OBJ})?`,
        `(?:${MAKE})?(?:${MOD}\\s+)?more\\s+${COLOR}`,
      ].join('|'),
    ),
    build: (m) => {
      const t = m[0].replace(/^(?:.*?\btint(?:ed)?\b)/, ' ');
      const c = colorIn(t) ?? colorIn(m[0]);
      if (!c) return null;
      const s = intensity(m[0]);
      return [{ kind: 'tint', color: c.rgb, colorName: c.name, amount: s === 0.5 ? 0.2 : s === 2 ? 0.6 : 0.35 }];
    },
  },
  {
    name: 'recolor',
    re: rx(
      `(?:make|turn|paint|colou?r|colou?ri[sz]e|recolou?r|dye|change|convert|switch|shift)(?:\\s+${OBJ})?` +
        `(?:\\s+(?:the\\s+)?(?:colou?rs?|hue)(?:\\s+of\\s+${OBJ})?)?(?:\\s+(?:to|into|in|as|with))?(?:\\s+(?:a|an))?(?:\\s+(?:bright|vivid|deep|rich|pure))?\\s+${COLOR}` +
        `(?:\\s+(?:colou?r(?:ed)?|tones?|hue|shades?))?`,
    ),
    build: (m) => {
      const c = colorIn(m[0]);
      if (!c) return null;
      return [{ kind: 'recolor', color: c.rgb, colorName: c.name }];
    },
  },
  {
    name: 'pixelate',
    re: adjustable(
      `(?:pixel+ate[ds]?|pixeli[sz]ed?|pixel(?:ated)?\\s+(?:art|look|style|effect)|mosaic(?:\\s+effect)?|8\\s*bit(?:\\s+(?:style|look))?|censor(?:ed)?)` +
        `(?:\\s+(?:with|using|by|to|at|into))?(?:\\s+(?:a\\s+)?(?:block|cell|pixel|tile)\\s+size(?:\\s+of)?)?(?:\\s+(?:blocks?|cells?|squares?|tiles?)\\s+of)?` +
        `(?:\\s+${NUM}\\s*(?:px|pixels?)?(?:\\s+(?:blocks?|cells?|squares?|tiles?))?)?`,
    ),
    build: (m) => {
      const n = numberIn(m[0].replace(/8\s*bit/, ''));
      return [{ kind: 'pixelate', block: n && n.value >= 1 ? Math.min(512, Math.round(n.value)) : null, strength: intensity(m[0]) }];
    },
  },
  {
    name: 'flip',
    re: rx(
      `(?:flip(?:ped)?|mirror(?:ed)?|reflect(?:ed)?)(?:\\s+${OBJ})?(?:\\s+image)?(?:\\s+(?:it\\s+)?(?:horizontally|vertically|horizontal|vertical|left\\s+to\\s+right|right\\s+to\\s+left|top\\s+to\\s+bottom|bottom\\s+to\\s+top|upside\\s+down|sideways|on\\s+the\\s+(?:x|y)\\s+axis|(?:along|across|over)\\s+the\\s+(?:x|y|horizontal|vertical)\\s+axis))?`,
    ),
    build: (m) => {
      const t = m[0];
      let axis: 'horizontal' | 'vertical' = /^(?:mirror|reflect)/.test(t) ? 'horizontal' : 'vertical';
      if (/horizontal|left\s+to\s+right|right\s+to\s+left|sideways|y\s+axis|vertical\s+axis/.test(t)) axis = 'horizontal';
      if (/vertical(?!\s+axis)|top\s+to\s+bottom|bottom\s+to\s+top|upside\s+down|x\s+axis|horizontal\s+axis/.test(t)) axis = 'vertical';
      return [{ kind: 'flip', axis }];
    },
  },
  {
    name: 'rotate',
    re: rx(
      [
        `(?:(?:rotate[d]?|turn|spin)(?:\\s+${OBJ})?\\s+(?:by\\s+)?)?(?:a\\s+|one\\s+)?(?:quarter|half)\\s+(?:a\\s+)?turn` +
          `(?:\\s+(?:to\\s+the\\s+)?(?:clockwise|counter\\s*clockwise|anti\\s*clockwise|cw|ccw|left|right))?`,
        `(?:rotate[d]?|spin|tilt)(?:\\s+${OBJ})?(?:\\s+(?:by|to))?(?:\\s+${NUM}\\s*(?:°|degrees?|deg)?)?(?:\\s+(?:to\\s+the\\s+)?(?:clockwise|counter\\s*clockwise|anti\\s*clockwise|cw|ccw|left|right))?`,
        `turn(?:\\s+${OBJ})?(?:\\s+(?:by|to))?(?:\\s+${NUM}\\s*(?:°|degrees?|deg)(?:\\s+(?:to\\s+the\\s+)?(?:clockwise|counter\\s*clockwise|anti\\s*clockwise|cw|ccw|left|right))?|\\s+(?:to\\s+the\\s+)?(?:clockwise|counter\\s*clockwise|anti\\s*clockwise|left|right|sideways))`,
        `(?:${MAKE})?(?:turn(?:ed)?\\s+)?upside\\s+down`,
      ].join('|'),
    ),
    build: (m) => {
      const t = m[0];
      if (/upside\s+down|half\s+(?:a\s+)?turn/.test(t)) return [{ kind: 'rotate', degrees: 180 }];
      const n = numberIn(t);
      let deg = n ? n.value : 90;
      if (/counter\s*clockwise|anti\s*clockwise|ccw|\bleft\b/.test(t)) deg = -deg;
      return [{ kind: 'rotate', degrees: deg }];
    },
  },
  {
    name: 'fit',
    re: rx(
      [
        `crop(?:\\s+${OBJ})?\\s+to\\s+(?:fit|fill)(?:\\s+the\\s+(?:frame|canvas|size|output(?:\\s+size)?))?`,
        `crop(?:\\s+${OBJ})?\\s+to\\s+(?:the\\s+)?(?:output\\s+|requested\\s+|new\\s+)?size`,
        `fill\\s+the\\s+(?:whole\\s+|entire\\s+)?(?:frame|canvas)`,
        `(?:no|without)\\s+(?:letterbox(?:ing)?|bars|black\\s+bars|padding)`,
        `(?:fit|keep|show)\\s+the\\s+(?:whole|entire|full)\\s+(?:image|picture|photo|photograph|scene)`,
        `letterbox(?:ed|ing)?|uncropped|(?:don't|do\\s+not|never)\\s+crop(?:\\s+${OBJ})?|(?:no|without)\\s+crop(?:ping)?`,
      ].join('|'),
    ),
    build: (m) => [{ kind: 'fit', mode: /^(?:crop|fill|no|without)(?!\s+crop)/.test(m[0]) ? 'cover' : 'contain' }],
  },
  {
    name: 'crop square',
    re: rx(
      `crop(?:\\s+${OBJ})?(?:\\s+(?:to|into|as|in))?\\s+(?:a\\s+)?square(?:\\s+(?:format|shape|aspect(?:\\s+ratio)?))?|square\\s+crop|` +
        `(?:make|turn)\\s+${OBJ}\\s+(?:a\\s+)?square|(?:crop(?:\\s+${OBJ})?\\s+(?:to\\s+)?)?1:1(?:\\s+(?:aspect(?:\\s+ratio)?|crop))?|square\\s+(?:format|aspect(?:\\s+ratio)?)`,
    ),
    build: () => [{ kind: 'crop-square' }],
  },
  {
    name: 'zoom',
    re: rx(
      `(?:(?:${MOD}\\s+)?zoom(?!\\s+out)(?:\\s+(?:in|into))?(?:\\s+(?:on\\s+)?(?:${OBJ}|the\\s+(?:cent(?:er|re)|middle)))?(?:\\s+${MOD})?(?:\\s+(?:by|to|at))?(?:\\s+${NUM}\\s*(?:x|×|times|%)?)?|` +
        `close\\s*up|(?:crop|enlarge|magnify)\\s+(?:in\\s+)?(?:on\\s+)?(?:the\\s+)?(?:cent(?:er|re)|middle)|magnify)`,
    ),
    build: (m) => {
      const n = numberIn(m[0]);
      let factor = 1 + 0.5 * intensity(m[0]);
      if (n) factor = n.unit === '%' ? n.value / 100 : n.value;
      if (!(factor > 1)) factor = 1.5;
      return [{ kind: 'zoom', factor: Math.min(16, factor) }];
    },
  },
  {
    name: 'border',
    re: rx(
      `(?:(?:add|put|draw|give\\s+${OBJ}|with|place|apply|frame\\s+${OBJ}\\s+with)\\s+)?(?:(?:a|an)\\s+)?` +
        `(?:(?:thick|thin|wide|narrow|fat|heavy|subtle|fine|${NUM}\\s*(?:px|pixels?)|${COLOR}(?:\\s+colou?red)?)\\s+){0,3}(?:border|frame|outline)` +
        `(?:\\s+(?:around|round|to|on)\\s+${OBJ})?` +
        `(?:\\s+(?:(?:of|in|with|colou?red|that\\s+is|which\\s+is)\\s+)?(?:(?:a|an)\\s+)?(?:thick|thin|wide|narrow|${NUM}\\s*(?:px|pixels?)(?:\\s+(?:wide|thick))?|${COLOR}(?:\\s+colou?r)?)){0,3}` +
        `(?:\\s+(?:around|round|to|on)\\s+${OBJ})?`,
    ),
    build: (m) => {
      const t = m[0];
      const c = colorIn(t);
      const n = numberIn(t);
      const strength = /\b(?:thick|wide|fat|heavy)\b/.test(t) ? 2 : /\b(?:thin|narrow|subtle|fine)\b/.test(t) ? 0.5 : 1;
      return [
        {
          kind: 'border',
          color: c ? c.rgb : [0, 0, 0],
          colorName: c ? c.name : 'black',
          thickness: n && n.value >= 1 ? Math.round(n.value) : null,
          strength,
        },
      ];
    },
  },
  {
    name: 'fill',
    re: rx(
      `(?:remove|erase|delete|get\\s+rid\\s+of|clean(?:\\s+up)?|take\\s+(?:out|away)|eliminate|wipe(?:\\s+out|\\s+away)?|inpaint|fill(?:\\s+in)?|retouch|heal|patch(?:\\s+up)?|cut\\s+out|hide|scrub|make\\s+[a-z0-9' ]*?\\s+disappear)` +
        `(?:\\s+(?!(?:and|then|also|plus|but)\\s)(?!(?:and|then|also|plus|but)$)[a-z0-9'#]+){0,8}`,
    ),
    build: (m) => {
      const vanish = /^make\s+(.+?)\s+disappear/.exec(m[0]);
      const target = vanish ? vanish[1]! : m[0].replace(/^\S+(?:\s+(?:rid\s+of|up|out|away|in))?/, '').trim();
      return [{ kind: 'fill', target: target === '' ? null : target }];
    },
  },
];

// ---------------------------------------------------------------------------
// generation rules: what can be drawn on an empty canvas (tried before RULES)

const GRADIENT_ADJ = '(?:smooth|soft|subtle|linear|radial|circular|diagonal|vertical|horizontal|colou?r)';
const GRADIENT_NOUN = `(?:(?:${GRADIENT_ADJ}\\s+)*gradient(?:\\s+(?:background|backdrop|bg|fill|canvas|wallpaper))?)`;
const GRADIENT_DIR =
  '(?:(?:going\\s+|running\\s+)?(?:from\\s+)?(?:the\\s+)?(?:top\\s+to\\s+(?:the\\s+)?bottom|bottom\\s+to\\s+(?:the\\s+)?top|left\\s+to\\s+(?:the\\s+)?right|right\\s+to\\s+(?:the\\s+)?left|' +
  '(?:cent(?:er|re)|middle)(?:\\s+out(?:wards?)?|\\s+to\\s+the\\s+(?:edges?|corners?|outside))|corner\\s+to\\s+corner)|diagonally|horizontally|vertically|radially)';
const PAIR_JOIN = '\\s*(?:and|&|to|into|,)\\s*';
const PATTERN_ADJ = '(?:vertical|horizontal|diagonal|thin|thick|wide|narrow|broad|fine|bold|big|large|small|tiny|little|classic)';
const PATTERN_NOUN =
  '(?:(?:pin\\s*)?stripes|striped(?:\\s+pattern)?|stripe\\s+pattern|' +
  'checker(?:board|ed)?(?:\\s+pattern)?|chequer(?:board|ed)?(?:\\s+pattern)?|chess\\s*board(?:\\s+pattern)?|checks|' +
  'polka\\s+dots?(?:\\s+pattern)?|dots|dotted(?:\\s+pattern)?|spots|spotted(?:\\s+pattern)?)';
const CANVAS_ADJ = '(?:plain|solid|flat|pure|simple|blank|empty|uniform|single|full|bright|vivid|deep|rich)';
const CANVAS_NOUN = '(?:canvas|background|backdrop|bg|square|rectangle|image|picture|colou?r|fill|field|wallpaper|page|screen|sheet)';

/** Colours named in `text`, in order. */
function colorsIn(text: string): { rgb: Rgb; name: string }[] {
  return [...text.matchAll(new RegExp(`(?<![a-z0-9#])${COLOR}`, 'g'))].map((m) => parseColor(m[0])).filter((c): c is { rgb: Rgb; name: string } => c !== null);
}

const WHITE: Rgb = [255, 255, 255];
const BLACK: Rgb = [0, 0, 0];

const GENERATION_RULES: Rule[] = [
  {
    name: 'gradient',
    re: rx(
      [
        `(?:(?:a|an)\\s+)?${GRADIENT_NOUN}(?:\\s+(?:going|running|fading|blending))?(?:\\s+(?:from|of|in))?\\s+${COLOR}${PAIR_JOIN}${COLOR}(?:\\s+${GRADIENT_DIR})?`,
        `(?:(?:a|an)\\s+)?(?:from\\s+)?${COLOR}${PAIR_JOIN}${COLOR}\\s+${GRADIENT_NOUN}(?:\\s+${GRADIENT_DIR})?`,
        `${COLOR}\\s+(?:fading|blending|fades|blends|fade|blend|going|turning)\\s+(?:in)?to\\s+${COLOR}(?:\\s+${GRADIENT_DIR})?`,
        `(?:(?:a|an)\\s+)?${GRADIENT_NOUN}(?:\\s+${GRADIENT_DIR})?`,
      ].join('|'),
    ),
    build: (m) => {
      const t = m[0];
      const [a, b] = colorsIn(t);
      let from = a ?? { rgb: BLACK, name: 'black' };
      let to = b ?? { rgb: WHITE, name: 'white' };
      let direction: GradientDirection = 'vertical';
      if (/radial|circular|cent(?:er|re)|middle/.test(t)) direction = 'radial';
      else if (/diagonal|corner/.test(t)) direction = 'diagonal';
      else if (/horizontal|left\s+to|right\s+to/.test(t)) direction = 'horizontal';
      // "from the bottom to the top": the first colour goes where the gradient starts
      if (/bottom\s+to\s+(?:the\s+)?top|right\s+to\s+(?:the\s+)?left/.test(t)) [from, to] = [to, from];
      return [{ kind: 'gradient', from: from.rgb, fromName: from.name, to: to.rgb, toName: to.name, direction }];
    },
  },
  {
    name: 'pattern',
    re: rx(
      `(?:(?:a|an|some)\\s+)?(?:${PATTERN_ADJ}\\s+){0,2}(?:${COLOR}(?:${PAIR_JOIN}${COLOR})?\\s+)?(?:${PATTERN_ADJ}\\s+){0,2}${PATTERN_NOUN}` +
        `(?:\\s+(?:in|of)\\s+${COLOR}(?:${PAIR_JOIN}${COLOR})?)?(?:\\s+(?:vertically|horizontally|diagonally))?`,
    ),
    build: (m) => {
      const t = m[0];
      const pattern: PatternKind = /stripe/.test(t) ? 'stripes' : /dot|spot/.test(t) ? 'dots' : 'checkerboard';
      const [a, b] = colorsIn(t);
      // a checkerboard of one colour or none is still two colours; stripes and dots of one colour lie on the canvas
      const fg = a ?? (pattern === 'checkerboard' ? { rgb: BLACK, name: 'black' } : null);
      const bg = b ?? (pattern === 'checkerboard' ? (fg && fg.name === 'white' ? { rgb: BLACK, name: 'black' } : { rgb: WHITE, name: 'white' }) : null);
      const direction: StripeDirection = /diagonal/.test(t) ? 'diagonal' : /horizontal/.test(t) ? 'horizontal' : 'vertical';
      const scale = /\b(?:thin|narrow|fine|pin\s*stripes)\b/.test(t) ? 0.5 : /\btiny\b/.test(t) ? 0.4 : /\b(?:small|little)\b/.test(t) ? 0.6 : /\b(?:thick|wide|broad|bold|big|large)\b/.test(t) ? 2 : 1;
      return [{ kind: 'pattern', pattern, fg: fg?.rgb ?? null, fgName: fg?.name ?? null, bg: bg?.rgb ?? null, bgName: bg?.name ?? null, direction, scale }];
    },
  },
  {
    name: 'canvas',
    re: rx(
      [
        `(?:(?:a|an)\\s+)?(?:${CANVAS_ADJ}\\s+){0,2}${COLOR}(?:\\s+colou?red)?(?:\\s+(?:square|rectangular|plain|solid|blank|empty))?\\s+${CANVAS_NOUN}`,
        `(?:on|against|over)\\s+(?:(?:a|an)\\s+)?(?:(?:${CANVAS_ADJ})\\s+){0,2}${COLOR}(?:\\s+(?:canvas|background|backdrop|bg|page|paper))?`,
        `(?:(?:make|paint|fill|colou?r|turn)\\s+(?:it|everything|the\\s+(?:whole\\s+)?(?:canvas|background|image|picture|page))\\s+(?:(?:all|entirely|completely|in|with)\\s+)?|(?:solid|plain|pure|flat|all|just|only|entirely)\\s+)${COLOR}`,
        `(?:canvas|background|backdrop|bg)\\s+(?:of|in|is|colou?r(?:ed)?)\\s+(?:(?:a|an)\\s+)?${COLOR}`,
        `(?:(?:a|an)\\s+)?(?:blank|empty|plain)\\s+(?:canvas|page|image|picture|sheet)|(?:(?:a|an)\\s+)?canvas`,
        `^[\\s,]*(?:(?:a|an)\\s+)?${COLOR}[\\s,]*$`,
      ].join('|'),
    ),
    build: (m) => {
      const c = colorIn(m[0]) ?? { rgb: WHITE, name: 'white' };
      return [{ kind: 'canvas', color: c.rgb, colorName: c.name }];
    },
  },
];

/** After RULES, in generations: a quoted caption with no verb ("'Grand Opening' in big white letters"). */
const GENERATION_TEXT_RULE: Rule = {
  name: 'text (bare quote)',
  re: rx(`${QUOTE}${TEXT_ATTRS}`),
  build: (m, ctx) => {
    const open = m.index;
    const text = ctx.quotes.get(open);
    if (text === undefined) return null;
    return textOp(ctx, m, text, open, ctx.norm.indexOf(QUOTE_CLOSE, open) + 1);
  },
};

/** Drawn first, in this order, whatever their place in the prompt: the canvas, then patterns, then the rest. */
const drawRank = (op: Op): number => (op.kind === 'canvas' || op.kind === 'gradient' ? 0 : op.kind === 'pattern' ? 1 : 2);

// ---------------------------------------------------------------------------
// leftovers

const FILLER = new Set(
  (
    'please pls plz kindly could can would will you your me i we us our my want wanted like love need just now also then and plus add ' +
    'so too as well it its it\'s this that these those them they the a an some to of for with by in on at into onto from up ' +
    'image picture photo photograph pic pics shot version copy result output one make made get do does give apply use put ' +
    'be is are was should must let let\'s lets thanks thank ok okay hey hi bit little lot more less very really slightly ' +
    'look looks all both whole entire everything here there same again too much'
  ).split(/\s+/),
);

function leftovers(prompt: string, norm: string, claimed: Uint8Array): string[] {
  const out: string[] = [];
  let i = 0;
  while (i < norm.length) {
    if (claimed[i] || norm[i] === ',') { i++; continue; }
    let j = i;
    while (j < norm.length && !claimed[j] && norm[j] !== ',') j++;
    const seg = norm.slice(i, j);
    const words = seg.match(/[a-z0-9#%'°]+|\u0001q*\u0002/g) ?? [];
    const meaningful = words.some((w) => w.startsWith(QUOTE_OPEN) || !FILLER.has(w));
    if (meaningful) {
      // trim connectors and filler at both ends, keep the middle as written
      const tokens = [...seg.matchAll(/\S+/g)];
      let a = 0, b = tokens.length - 1;
      const trimmable = (t: string): boolean => /^(?:and|then|also|plus|please|but|,|so|now|kindly)$/.test(t);
      while (a <= b && trimmable(tokens[a]![0])) a++;
      while (b >= a && trimmable(tokens[b]![0])) b--;
      if (a <= b) {
        const start = i + tokens[a]!.index!;
        const end = i + tokens[b]!.index! + tokens[b]![0].length;
        out.push(prompt.slice(start, end).trim());
      }
    }
    i = j;
  }
  return out;
}

// ---------------------------------------------------------------------------

export interface ParseOptions {
  /**
   * A generation's prompt: what to draw on an empty canvas. Adds the drawing
   * vocabulary (canvas, gradient, stripes, checkerboard, polka dots, a bare
   * quoted caption), puts captions in the centre unless told otherwise, and
   * orders the drawing first (canvas, then patterns, then the rest).
   */
  generation?: boolean;
}

/** Parse a prompt into operations (prompt order). Pure and deterministic. */
export function parseInstructions(prompt: string, options: ParseOptions = {}): ParsedInstructions {
  const generation = options.generation === true;
  const { norm, quotes } = normalise(prompt);
  const claimed = new Uint8Array(norm.length);
  const found: { start: number; ops: Op[] }[] = [];
  const ctx: RuleContext = { prompt, norm, quotes, textDefault: generation ? 'center' : 'bottom' };
  let work = norm;
  const rules = generation ? [...GENERATION_RULES, ...RULES, GENERATION_TEXT_RULE] : RULES;
  for (const rule of rules) {
    rule.re.lastIndex = 0;
    let m: RegExpExecArray | null;
    let changed = false;
    while ((m = rule.re.exec(work)) !== null) {
      if (m[0].length === 0) { rule.re.lastIndex++; continue; }
      const ops = rule.build(m, ctx);
      if (!ops) { rule.re.lastIndex = m.index + 1; continue; }
      found.push({ start: m.index, ops });
      claimed.fill(1, m.index, m.index + m[0].length);
      changed = true;
    }
    // claimed text becomes a character no pattern matches, so later rules stop at it
    if (changed) work = norm.split('').map((c, k) => (claimed[k] ? CLAIMED : c)).join('');
  }
  found.sort((a, b) => a.start - b.start);
  let ops = found.flatMap((f) => f.ops);
  // several merge phrases ("merge them side by side", "collage") are one merge
  const merges = ops.filter((o): o is Extract<Op, { kind: 'merge' }> => o.kind === 'merge');
  if (merges.length > 1) {
    const layout = merges.find((o) => o.layout !== 'grid')?.layout ?? 'grid';
    let seen = false;
    ops = ops.flatMap((o) => {
      if (o.kind !== 'merge') return [o];
      if (seen) return [];
      seen = true;
      return [{ kind: 'merge', layout } as Op];
    });
  }
  if (generation) ops = ops.map((op, i) => ({ op, i })).sort((a, b) => drawRank(a.op) - drawRank(b.op) || a.i - b.i).map((x) => x.op);
  const unmatched = leftovers(prompt, norm, claimed);
  return { ops, understood: ops.length > 0, unmatched };
}

// ---------------------------------------------------------------------------

const pct = (v: number): string => `${Math.round(v * 100)}%`;
const posWords: Record<TextPosition, string> = {
  top: 'top', bottom: 'bottom', center: 'centre', left: 'left', right: 'right',
  'top-left': 'top left', 'top-right': 'top right', 'bottom-left': 'bottom left', 'bottom-right': 'bottom right',
};

/** Human words for an operation (EngineResult.operations). */
export function describeOp(op: Op): string {
  switch (op.kind) {
    case 'grayscale': return 'grayscale';
    case 'sepia': return op.amount >= 1 ? 'sepia' : `sepia ${pct(op.amount)}`;
    case 'vintage': return 'vintage look';
    case 'temperature': return op.amount >= 0 ? `warmer (${pct(op.amount)})` : `cooler (${pct(-op.amount)})`;
    case 'invert': return 'invert colours';
    case 'blur': return op.sigma !== null ? `blur (sigma ${op.sigma}px)` : 'blur';
    case 'sharpen': return 'sharpen';
    case 'brightness': return op.amount >= 0 ? `brighten ${pct(op.amount)}` : `darken ${pct(-op.amount)}`;
    case 'contrast': return op.amount >= 0 ? `more contrast (${pct(op.amount)})` : `less contrast (${pct(-op.amount)})`;
    case 'saturation': return op.amount >= 0 ? `more saturation (${pct(op.amount)})` : `less saturation (${pct(-op.amount)})`;
    case 'tint': return `tint ${op.colorName}`;
    case 'recolor': return `recolour to ${op.colorName}`;
    case 'pixelate': return op.block !== null ? `pixelate (${op.block}px blocks)` : 'pixelate';
    case 'rotate': return `rotate ${Math.abs(op.degrees)}° ${op.degrees >= 0 ? 'clockwise' : 'counter-clockwise'}`;
    case 'flip': return op.axis === 'horizontal' ? 'mirror (flip horizontally)' : 'flip vertically';
    case 'text': {
      const look = [
        op.size !== 'medium' ? op.size : null,
        op.weight !== 'bold' ? op.weight : null,
        op.outline === null
          ? 'no outline'
          : op.outline.colorName || op.outline.width !== 1
            ? [op.outline.width > 1 ? 'thick' : op.outline.width < 1 ? 'thin' : null, op.outline.colorName, 'outline'].filter(Boolean).join(' ')
            : null,
      ].filter((w) => w !== null);
      return `text '${op.text}' at ${posWords[op.position]}${op.colorName ? ` in ${op.colorName}` : ''}${look.length ? ` (${look.join(', ')})` : ''}`;
    }
    case 'remove-background': return 'remove background';
    case 'replace-background': return `replace background with ${op.colorName}`;
    case 'crop-square': return 'crop to square';
    case 'fit': return op.mode === 'cover' ? 'crop to fill the output size' : 'fit the whole picture';
    case 'zoom': return `zoom in ${op.factor}x`;
    case 'border': return `${op.colorName} border${op.thickness !== null ? ` ${op.thickness}px` : ''}`;
    case 'merge': return `merge inputs (${op.layout})`;
    case 'fill': return op.target ? `content-aware fill (remove ${op.target})` : 'content-aware fill';
    case 'canvas': return `${op.colorName} canvas`;
    case 'gradient': return `${op.direction} gradient from ${op.fromName} to ${op.toName}`;
    case 'pattern': {
      const what = op.pattern === 'dots' ? 'polka dots' : op.pattern === 'stripes' ? `${op.direction} stripes` : 'checkerboard';
      const colours = [op.fgName, op.bgName].filter((c) => c !== null);
      return `${colours.length > 0 ? `${colours.join(' and ')} ` : ''}${what}${op.scale !== 1 ? ` (×${op.scale})` : ''}`;
    }
  }
}

/**
 * What the engine can do, in one line for error messages (the unsupported
 * instruction 400). Keep in step with RULES and docs/engine/README.md.
 */
export const ENGINE_CAN_DO =
  'black and white, sepia, vintage, warmer/cooler, invert, blur, sharpen, brighten/darken, contrast, saturation, ' +
  "tint or recolour ('tint it blue', 'make it #3366ff'), pixelate, rotate, flip/mirror, crop to square, zoom in, border, " +
  "text (\"add 'SALE' in big red letters at the top\"), remove or replace the background, " +
  "remove/erase an object inside a mask, merge several images (docs/engine/README.md lists every phrasing)";

/**
 * What the engine can draw for a generation, in one line for error messages
 * and warnings. Keep in step with GENERATION_RULES and docs/engine/README.md.
 */
export const ENGINE_CAN_DRAW =
  "a plain canvas ('a red square canvas', 'solid navy'), a gradient ('a gradient from navy to orange', 'radial'), " +
  "stripes, a checkerboard or polka dots ('blue and white stripes', 'white polka dots on red'), " +
  "text (\"a poster that says 'Grand Opening' in big white letters on dark green\"), " +
  'and then any edit on the drawing (a border, blur, …; docs/engine/README.md lists every phrasing)';

/** What a generation's client is told about its prompt (x-imagegate-warning). Pure. */
export function drawingWarnings(parsed: ParsedInstructions, prompt: string): string[] {
  if (!parsed.understood) {
    const what = parsed.unmatched.length > 0 ? parsed.unmatched.join("', '") : prompt.trim();
    return [`the built-in engine cannot draw '${what}'; it drew a plain white canvas. It can draw: ${ENGINE_CAN_DRAW}`];
  }
  if (parsed.unmatched.length > 0) {
    return [`part of the prompt could not be drawn and was left out: '${parsed.unmatched.join("', '")}'. The built-in engine can draw: ${ENGINE_CAN_DRAW}`];
  }
  return [];
}

/**
 * What the client is told about its instruction. Pure, so providers/local can
 * say it in a header before the job runs (streaming answers).
 */
export function instructionWarnings(parsed: ParsedInstructions, prompt: string, masked: boolean): string[] {
  if (!parsed.understood) {
    const what = parsed.unmatched.length > 0 ? parsed.unmatched.join("', '") : prompt.trim();
    return masked
      ? [`instruction not understood: '${what}'; the masked region was filled from its surroundings instead`]
      : [`instruction not understood: '${what}'; the image was returned unchanged`];
  }
  if (parsed.unmatched.length > 0) {
    return [`part of the instruction was not understood and was ignored: '${parsed.unmatched.join("', '")}'`];
  }
  return [];
}
