// Original file: ../../protos/modelport/v1/vision.proto

import type { TextLine as _modelport_v1_TextLine, TextLine__Output as _modelport_v1_TextLine__Output } from '../../modelport/v1/TextLine.js';

/**
 * The text of one image.
 */
export interface ImageText {
  /**
   * Lines in reading order: top to bottom, and left to right within a row.
   */
  'lines'?: (_modelport_v1_TextLine)[];
  /**
   * The lines joined: a space between lines of one row, a newline between rows.
   */
  'text'?: (string);
}

/**
 * The text of one image.
 */
export interface ImageText__Output {
  /**
   * Lines in reading order: top to bottom, and left to right within a row.
   */
  'lines': (_modelport_v1_TextLine__Output)[];
  /**
   * The lines joined: a space between lines of one row, a newline between rows.
   */
  'text': (string);
}
