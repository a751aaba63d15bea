import type * as grpc from '@grpc/grpc-js';
import type { EnumTypeDefinition, MessageTypeDefinition } from '@grpc/proto-loader';

import type { BoundingBox as _modelport_v1_BoundingBox, BoundingBox__Output as _modelport_v1_BoundingBox__Output } from './modelport/v1/BoundingBox.js';
import type { Classification as _modelport_v1_Classification, Classification__Output as _modelport_v1_Classification__Output } from './modelport/v1/Classification.js';
import type { ClassifyImageRequest as _modelport_v1_ClassifyImageRequest, ClassifyImageRequest__Output as _modelport_v1_ClassifyImageRequest__Output } from './modelport/v1/ClassifyImageRequest.js';
import type { ClassifyImageResponse as _modelport_v1_ClassifyImageResponse, ClassifyImageResponse__Output as _modelport_v1_ClassifyImageResponse__Output } from './modelport/v1/ClassifyImageResponse.js';
import type { DetectObjectsRequest as _modelport_v1_DetectObjectsRequest, DetectObjectsRequest__Output as _modelport_v1_DetectObjectsRequest__Output } from './modelport/v1/DetectObjectsRequest.js';
import type { DetectObjectsResponse as _modelport_v1_DetectObjectsResponse, DetectObjectsResponse__Output as _modelport_v1_DetectObjectsResponse__Output } from './modelport/v1/DetectObjectsResponse.js';
import type { Detection as _modelport_v1_Detection, Detection__Output as _modelport_v1_Detection__Output } from './modelport/v1/Detection.js';
import type { ExplainImageRequest as _modelport_v1_ExplainImageRequest, ExplainImageRequest__Output as _modelport_v1_ExplainImageRequest__Output } from './modelport/v1/ExplainImageRequest.js';
import type { ExplainImageResponse as _modelport_v1_ExplainImageResponse, ExplainImageResponse__Output as _modelport_v1_ExplainImageResponse__Output } from './modelport/v1/ExplainImageResponse.js';
import type { ImageDetections as _modelport_v1_ImageDetections, ImageDetections__Output as _modelport_v1_ImageDetections__Output } from './modelport/v1/ImageDetections.js';
import type { ImageText as _modelport_v1_ImageText, ImageText__Output as _modelport_v1_ImageText__Output } from './modelport/v1/ImageText.js';
import type { LabelScore as _modelport_v1_LabelScore, LabelScore__Output as _modelport_v1_LabelScore__Output } from './modelport/v1/LabelScore.js';
import type { ModelRef as _modelport_v1_ModelRef, ModelRef__Output as _modelport_v1_ModelRef__Output } from './modelport/v1/ModelRef.js';
import type { ReadTextRequest as _modelport_v1_ReadTextRequest, ReadTextRequest__Output as _modelport_v1_ReadTextRequest__Output } from './modelport/v1/ReadTextRequest.js';
import type { ReadTextResponse as _modelport_v1_ReadTextResponse, ReadTextResponse__Output as _modelport_v1_ReadTextResponse__Output } from './modelport/v1/ReadTextResponse.js';
import type { Saliency as _modelport_v1_Saliency, Saliency__Output as _modelport_v1_Saliency__Output } from './modelport/v1/Saliency.js';
import type { TextLine as _modelport_v1_TextLine, TextLine__Output as _modelport_v1_TextLine__Output } from './modelport/v1/TextLine.js';
import type { Usage as _modelport_v1_Usage, Usage__Output as _modelport_v1_Usage__Output } from './modelport/v1/Usage.js';
import type { VisionServiceClient as _modelport_v1_VisionServiceClient, VisionServiceDefinition as _modelport_v1_VisionServiceDefinition } from './modelport/v1/VisionService.js';

type SubtypeConstructor<Constructor extends new (...args: any) => any, Subtype> = {
  new(...args: ConstructorParameters<Constructor>): Subtype;
};

export interface ProtoGrpcType {
  modelport: {
    v1: {
      Baseline: EnumTypeDefinition
      BoundingBox: MessageTypeDefinition<_modelport_v1_BoundingBox, _modelport_v1_BoundingBox__Output>
      Classification: MessageTypeDefinition<_modelport_v1_Classification, _modelport_v1_Classification__Output>
      ClassifyImageRequest: MessageTypeDefinition<_modelport_v1_ClassifyImageRequest, _modelport_v1_ClassifyImageRequest__Output>
      ClassifyImageResponse: MessageTypeDefinition<_modelport_v1_ClassifyImageResponse, _modelport_v1_ClassifyImageResponse__Output>
      DetectObjectsRequest: MessageTypeDefinition<_modelport_v1_DetectObjectsRequest, _modelport_v1_DetectObjectsRequest__Output>
      DetectObjectsResponse: MessageTypeDefinition<_modelport_v1_DetectObjectsResponse, _modelport_v1_DetectObjectsResponse__Output>
      Detection: MessageTypeDefinition<_modelport_v1_Detection, _modelport_v1_Detection__Output>
      ExplainImageRequest: MessageTypeDefinition<_modelport_v1_ExplainImageRequest, _modelport_v1_ExplainImageRequest__Output>
      ExplainImageResponse: MessageTypeDefinition<_modelport_v1_ExplainImageResponse, _modelport_v1_ExplainImageResponse__Output>
      ExplainMethod: EnumTypeDefinition
      ImageDetections: MessageTypeDefinition<_modelport_v1_ImageDetections, _modelport_v1_ImageDetections__Output>
      ImageText: MessageTypeDefinition<_modelport_v1_ImageText, _modelport_v1_ImageText__Output>
      LabelScore: MessageTypeDefinition<_modelport_v1_LabelScore, _modelport_v1_LabelScore__Output>
      ModelRef: MessageTypeDefinition<_modelport_v1_ModelRef, _modelport_v1_ModelRef__Output>
      ModelState: EnumTypeDefinition
      ReadTextRequest: MessageTypeDefinition<_modelport_v1_ReadTextRequest, _modelport_v1_ReadTextRequest__Output>
      ReadTextResponse: MessageTypeDefinition<_modelport_v1_ReadTextResponse, _modelport_v1_ReadTextResponse__Output>
      Saliency: MessageTypeDefinition<_modelport_v1_Saliency, _modelport_v1_Saliency__Output>
      Task: EnumTypeDefinition
      TextLine: MessageTypeDefinition<_modelport_v1_TextLine, _modelport_v1_TextLine__Output>
      Truncation: EnumTypeDefinition
      Usage: MessageTypeDefinition<_modelport_v1_Usage, _modelport_v1_Usage__Output>
      /**
       * Image classification, object detection and text recognition on encoded image files.
       */
      VisionService: SubtypeConstructor<typeof grpc.Client, _modelport_v1_VisionServiceClient> & { service: _modelport_v1_VisionServiceDefinition }
    }
  }
}

