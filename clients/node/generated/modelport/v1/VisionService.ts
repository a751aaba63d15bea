// Original file: ../../protos/modelport/v1/vision.proto

import type * as grpc from '@grpc/grpc-js'
import type { MethodDefinition } from '@grpc/proto-loader'
import type { ClassifyImageRequest as _modelport_v1_ClassifyImageRequest, ClassifyImageRequest__Output as _modelport_v1_ClassifyImageRequest__Output } from '../../modelport/v1/ClassifyImageRequest.js';
import type { ClassifyImageResponse as _modelport_v1_ClassifyImageResponse, ClassifyImageResponse__Output as _modelport_v1_ClassifyImageResponse__Output } from '../../modelport/v1/ClassifyImageResponse.js';
import type { DetectObjectsRequest as _modelport_v1_DetectObjectsRequest, DetectObjectsRequest__Output as _modelport_v1_DetectObjectsRequest__Output } from '../../modelport/v1/DetectObjectsRequest.js';
import type { DetectObjectsResponse as _modelport_v1_DetectObjectsResponse, DetectObjectsResponse__Output as _modelport_v1_DetectObjectsResponse__Output } from '../../modelport/v1/DetectObjectsResponse.js';
import type { ExplainImageRequest as _modelport_v1_ExplainImageRequest, ExplainImageRequest__Output as _modelport_v1_ExplainImageRequest__Output } from '../../modelport/v1/ExplainImageRequest.js';
import type { ExplainImageResponse as _modelport_v1_ExplainImageResponse, ExplainImageResponse__Output as _modelport_v1_ExplainImageResponse__Output } from '../../modelport/v1/ExplainImageResponse.js';
import type { ReadTextRequest as _modelport_v1_ReadTextRequest, ReadTextRequest__Output as _modelport_v1_ReadTextRequest__Output } from '../../modelport/v1/ReadTextRequest.js';
import type { ReadTextResponse as _modelport_v1_ReadTextResponse, ReadTextResponse__Output as _modelport_v1_ReadTextResponse__Output } from '../../modelport/v1/ReadTextResponse.js';

/**
 * Image classification, object detection and text recognition on encoded image files.
 */
export interface VisionServiceClient extends grpc.Client {
  /**
   * Classifies every image.
   */
  ClassifyImage(argument: _modelport_v1_ClassifyImageRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_modelport_v1_ClassifyImageResponse__Output>): grpc.ClientUnaryCall;
  ClassifyImage(argument: _modelport_v1_ClassifyImageRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_modelport_v1_ClassifyImageResponse__Output>): grpc.ClientUnaryCall;
  ClassifyImage(argument: _modelport_v1_ClassifyImageRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_modelport_v1_ClassifyImageResponse__Output>): grpc.ClientUnaryCall;
  ClassifyImage(argument: _modelport_v1_ClassifyImageRequest, callback: grpc.requestCallback<_modelport_v1_ClassifyImageResponse__Output>): grpc.ClientUnaryCall;
  /**
   * Classifies every image.
   */
  classifyImage(argument: _modelport_v1_ClassifyImageRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_modelport_v1_ClassifyImageResponse__Output>): grpc.ClientUnaryCall;
  classifyImage(argument: _modelport_v1_ClassifyImageRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_modelport_v1_ClassifyImageResponse__Output>): grpc.ClientUnaryCall;
  classifyImage(argument: _modelport_v1_ClassifyImageRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_modelport_v1_ClassifyImageResponse__Output>): grpc.ClientUnaryCall;
  classifyImage(argument: _modelport_v1_ClassifyImageRequest, callback: grpc.requestCallback<_modelport_v1_ClassifyImageResponse__Output>): grpc.ClientUnaryCall;
  
  /**
   * Detects objects in every image. An OCR model detects text lines: label "text", the
   * line read in `Detection.text`.
   */
  DetectObjects(argument: _modelport_v1_DetectObjectsRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_modelport_v1_DetectObjectsResponse__Output>): grpc.ClientUnaryCall;
  DetectObjects(argument: _modelport_v1_DetectObjectsRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_modelport_v1_DetectObjectsResponse__Output>): grpc.ClientUnaryCall;
  DetectObjects(argument: _modelport_v1_DetectObjectsRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_modelport_v1_DetectObjectsResponse__Output>): grpc.ClientUnaryCall;
  DetectObjects(argument: _modelport_v1_DetectObjectsRequest, callback: grpc.requestCallback<_modelport_v1_DetectObjectsResponse__Output>): grpc.ClientUnaryCall;
  /**
   * Detects objects in every image. An OCR model detects text lines: label "text", the
   * line read in `Detection.text`.
   */
  detectObjects(argument: _modelport_v1_DetectObjectsRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_modelport_v1_DetectObjectsResponse__Output>): grpc.ClientUnaryCall;
  detectObjects(argument: _modelport_v1_DetectObjectsRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_modelport_v1_DetectObjectsResponse__Output>): grpc.ClientUnaryCall;
  detectObjects(argument: _modelport_v1_DetectObjectsRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_modelport_v1_DetectObjectsResponse__Output>): grpc.ClientUnaryCall;
  detectObjects(argument: _modelport_v1_DetectObjectsRequest, callback: grpc.requestCallback<_modelport_v1_DetectObjectsResponse__Output>): grpc.ClientUnaryCall;
  
  /**
   * Explains one image classification: a saliency map of the image for a label (the
   * predicted one by default). Explanations run in their own queue at a lower priority
   * than every other call of the model (`explain_*` settings); a full queue is
   * RESOURCE_EXHAUSTED. Deadlines and cancellation stop the work between step batches.
   */
  Explain(argument: _modelport_v1_ExplainImageRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_modelport_v1_ExplainImageResponse__Output>): grpc.ClientUnaryCall;
  Explain(argument: _modelport_v1_ExplainImageRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_modelport_v1_ExplainImageResponse__Output>): grpc.ClientUnaryCall;
  Explain(argument: _modelport_v1_ExplainImageRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_modelport_v1_ExplainImageResponse__Output>): grpc.ClientUnaryCall;
  Explain(argument: _modelport_v1_ExplainImageRequest, callback: grpc.requestCallback<_modelport_v1_ExplainImageResponse__Output>): grpc.ClientUnaryCall;
  /**
   * Explains one image classification: a saliency map of the image for a label (the
   * predicted one by default). Explanations run in their own queue at a lower priority
   * than every other call of the model (`explain_*` settings); a full queue is
   * RESOURCE_EXHAUSTED. Deadlines and cancellation stop the work between step batches.
   */
  explain(argument: _modelport_v1_ExplainImageRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_modelport_v1_ExplainImageResponse__Output>): grpc.ClientUnaryCall;
  explain(argument: _modelport_v1_ExplainImageRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_modelport_v1_ExplainImageResponse__Output>): grpc.ClientUnaryCall;
  explain(argument: _modelport_v1_ExplainImageRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_modelport_v1_ExplainImageResponse__Output>): grpc.ClientUnaryCall;
  explain(argument: _modelport_v1_ExplainImageRequest, callback: grpc.requestCallback<_modelport_v1_ExplainImageResponse__Output>): grpc.ClientUnaryCall;
  
  /**
   * Reads the text of every image (OCR models): lines in reading order.
   */
  ReadText(argument: _modelport_v1_ReadTextRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_modelport_v1_ReadTextResponse__Output>): grpc.ClientUnaryCall;
  ReadText(argument: _modelport_v1_ReadTextRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_modelport_v1_ReadTextResponse__Output>): grpc.ClientUnaryCall;
  ReadText(argument: _modelport_v1_ReadTextRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_modelport_v1_ReadTextResponse__Output>): grpc.ClientUnaryCall;
  ReadText(argument: _modelport_v1_ReadTextRequest, callback: grpc.requestCallback<_modelport_v1_ReadTextResponse__Output>): grpc.ClientUnaryCall;
  /**
   * Reads the text of every image (OCR models): lines in reading order.
   */
  readText(argument: _modelport_v1_ReadTextRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_modelport_v1_ReadTextResponse__Output>): grpc.ClientUnaryCall;
  readText(argument: _modelport_v1_ReadTextRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_modelport_v1_ReadTextResponse__Output>): grpc.ClientUnaryCall;
  readText(argument: _modelport_v1_ReadTextRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_modelport_v1_ReadTextResponse__Output>): grpc.ClientUnaryCall;
  readText(argument: _modelport_v1_ReadTextRequest, callback: grpc.requestCallback<_modelport_v1_ReadTextResponse__Output>): grpc.ClientUnaryCall;
  
}

/**
 * Image classification, object detection and text recognition on encoded image files.
 */
export interface VisionServiceHandlers extends grpc.UntypedServiceImplementation {
  /**
   * Classifies every image.
   */
  ClassifyImage: grpc.handleUnaryCall<_modelport_v1_ClassifyImageRequest__Output, _modelport_v1_ClassifyImageResponse>;
  
  /**
   * Detects objects in every image. An OCR model detects text lines: label "text", the
   * line read in `Detection.text`.
   */
  DetectObjects: grpc.handleUnaryCall<_modelport_v1_DetectObjectsRequest__Output, _modelport_v1_DetectObjectsResponse>;
  
  /**
   * Explains one image classification: a saliency map of the image for a label (the
   * predicted one by default). Explanations run in their own queue at a lower priority
   * than every other call of the model (`explain_*` settings); a full queue is
   * RESOURCE_EXHAUSTED. Deadlines and cancellation stop the work between step batches.
   */
  Explain: grpc.handleUnaryCall<_modelport_v1_ExplainImageRequest__Output, _modelport_v1_ExplainImageResponse>;
  
  /**
   * Reads the text of every image (OCR models): lines in reading order.
   */
  ReadText: grpc.handleUnaryCall<_modelport_v1_ReadTextRequest__Output, _modelport_v1_ReadTextResponse>;
  
}

export interface VisionServiceDefinition extends grpc.ServiceDefinition {
  ClassifyImage: MethodDefinition<_modelport_v1_ClassifyImageRequest, _modelport_v1_ClassifyImageResponse, _modelport_v1_ClassifyImageRequest__Output, _modelport_v1_ClassifyImageResponse__Output>
  DetectObjects: MethodDefinition<_modelport_v1_DetectObjectsRequest, _modelport_v1_DetectObjectsResponse, _modelport_v1_DetectObjectsRequest__Output, _modelport_v1_DetectObjectsResponse__Output>
  Explain: MethodDefinition<_modelport_v1_ExplainImageRequest, _modelport_v1_ExplainImageResponse, _modelport_v1_ExplainImageRequest__Output, _modelport_v1_ExplainImageResponse__Output>
  ReadText: MethodDefinition<_modelport_v1_ReadTextRequest, _modelport_v1_ReadTextResponse, _modelport_v1_ReadTextRequest__Output, _modelport_v1_ReadTextResponse__Output>
}
