// Original file: ../../protos/modelport/v1/common.proto

/**
 * What a model does; decides which RPCs it serves.
 */
export const Task = {
  /**
   * Not set.
   */
  TASK_UNSPECIFIED: 'TASK_UNSPECIFIED',
  /**
   * Sentence embeddings (EmbeddingService.Embed).
   */
  TASK_EMBEDDING: 'TASK_EMBEDDING',
  /**
   * Text classification (NlpService.Classify).
   */
  TASK_TEXT_CLASSIFICATION: 'TASK_TEXT_CLASSIFICATION',
  /**
   * Token classification / NER (NlpService.ClassifyTokens).
   */
  TASK_TOKEN_CLASSIFICATION: 'TASK_TOKEN_CLASSIFICATION',
  /**
   * Causal text generation (NlpService.Generate / GenerateStream).
   */
  TASK_TEXT_GENERATION: 'TASK_TEXT_GENERATION',
  /**
   * Text-to-text generation: summarise, translate (NlpService.Generate / GenerateStream).
   */
  TASK_TEXT2TEXT_GENERATION: 'TASK_TEXT2TEXT_GENERATION',
  /**
   * Image classification (VisionService.ClassifyImage).
   */
  TASK_IMAGE_CLASSIFICATION: 'TASK_IMAGE_CLASSIFICATION',
  /**
   * Object detection (VisionService.DetectObjects).
   */
  TASK_OBJECT_DETECTION: 'TASK_OBJECT_DETECTION',
  /**
   * Optical character recognition: text lines found and read in images
   * (VisionService.ReadText, and VisionService.DetectObjects with label "text").
   */
  TASK_OCR: 'TASK_OCR',
} as const;

/**
 * What a model does; decides which RPCs it serves.
 */
export type Task =
  /**
   * Not set.
   */
  | 'TASK_UNSPECIFIED'
  | 0
  /**
   * Sentence embeddings (EmbeddingService.Embed).
   */
  | 'TASK_EMBEDDING'
  | 1
  /**
   * Text classification (NlpService.Classify).
   */
  | 'TASK_TEXT_CLASSIFICATION'
  | 2
  /**
   * Token classification / NER (NlpService.ClassifyTokens).
   */
  | 'TASK_TOKEN_CLASSIFICATION'
  | 3
  /**
   * Causal text generation (NlpService.Generate / GenerateStream).
   */
  | 'TASK_TEXT_GENERATION'
  | 4
  /**
   * Text-to-text generation: summarise, translate (NlpService.Generate / GenerateStream).
   */
  | 'TASK_TEXT2TEXT_GENERATION'
  | 5
  /**
   * Image classification (VisionService.ClassifyImage).
   */
  | 'TASK_IMAGE_CLASSIFICATION'
  | 6
  /**
   * Object detection (VisionService.DetectObjects).
   */
  | 'TASK_OBJECT_DETECTION'
  | 7
  /**
   * Optical character recognition: text lines found and read in images
   * (VisionService.ReadText, and VisionService.DetectObjects with label "text").
   */
  | 'TASK_OCR'
  | 8

/**
 * What a model does; decides which RPCs it serves.
 */
export type Task__Output = typeof Task[keyof typeof Task]
