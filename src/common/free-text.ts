import { applyDecorators } from '@nestjs/common';
import { Matches } from 'class-validator';

/**
 * Control characters (C0, DEL, C1), invisible format characters (zero-width, bidi overrides and isolates,
 * U+FEFF, U+2060…), line and paragraph separators, and lone surrogates: none has a place in a name, and each
 * can make a name read differently from what it is.
 */
const CONTROL_OR_INVISIBLE = /^[^\p{Cc}\p{Cf}\p{Cs}\p{Zl}\p{Zp}]*$/u;
/** Something other than white space and the fillers that render as blanks. */
const VISIBLE = /[^\s\u115f\u1160\u3164\uffa0\u2800]/u;

/** A free-text name (`extension_name`, a client's `name`): visible text, no control or invisible characters. */
export const IsFreeText = () =>
  applyDecorators(
    Matches(CONTROL_OR_INVISIBLE, { message: '$property must not contain control or invisible format characters' }),
    Matches(VISIBLE, { message: '$property must not be blank' }),
  );
