import type * as grpc from '@grpc/grpc-js';
import type { EnumTypeDefinition, MessageTypeDefinition } from '@grpc/proto-loader';

import type { Classification as _modelport_v1_Classification, Classification__Output as _modelport_v1_Classification__Output } from './modelport/v1/Classification.js';
import type { EmbedRequest as _modelport_v1_EmbedRequest, EmbedRequest__Output as _modelport_v1_EmbedRequest__Output } from './modelport/v1/EmbedRequest.js';
import type { EmbedResponse as _modelport_v1_EmbedResponse, EmbedResponse__Output as _modelport_v1_EmbedResponse__Output } from './modelport/v1/EmbedResponse.js';
import type { Embedding as _modelport_v1_Embedding, Embedding__Output as _modelport_v1_Embedding__Output } from './modelport/v1/Embedding.js';
import type { EmbeddingServiceClient as _modelport_v1_EmbeddingServiceClient, EmbeddingServiceDefinition as _modelport_v1_EmbeddingServiceDefinition } from './modelport/v1/EmbeddingService.js';
import type { LabelScore as _modelport_v1_LabelScore, LabelScore__Output as _modelport_v1_LabelScore__Output } from './modelport/v1/LabelScore.js';
import type { ModelRef as _modelport_v1_ModelRef, ModelRef__Output as _modelport_v1_ModelRef__Output } from './modelport/v1/ModelRef.js';
import type { Usage as _modelport_v1_Usage, Usage__Output as _modelport_v1_Usage__Output } from './modelport/v1/Usage.js';

type SubtypeConstructor<Constructor extends new (...args: any) => any, Subtype> = {
  new(...args: ConstructorParameters<Constructor>): Subtype;
};

export interface ProtoGrpcType {
  modelport: {
    v1: {
      Baseline: EnumTypeDefinition
      Classification: MessageTypeDefinition<_modelport_v1_Classification, _modelport_v1_Classification__Output>
      EmbedRequest: MessageTypeDefinition<_modelport_v1_EmbedRequest, _modelport_v1_EmbedRequest__Output>
      EmbedResponse: MessageTypeDefinition<_modelport_v1_EmbedResponse, _modelport_v1_EmbedResponse__Output>
      Embedding: MessageTypeDefinition<_modelport_v1_Embedding, _modelport_v1_Embedding__Output>
      /**
       * Turns texts into dense vectors.
       */
      EmbeddingService: SubtypeConstructor<typeof grpc.Client, _modelport_v1_EmbeddingServiceClient> & { service: _modelport_v1_EmbeddingServiceDefinition }
      ExplainMethod: EnumTypeDefinition
      LabelScore: MessageTypeDefinition<_modelport_v1_LabelScore, _modelport_v1_LabelScore__Output>
      ModelRef: MessageTypeDefinition<_modelport_v1_ModelRef, _modelport_v1_ModelRef__Output>
      ModelState: EnumTypeDefinition
      Task: EnumTypeDefinition
      Truncation: EnumTypeDefinition
      Usage: MessageTypeDefinition<_modelport_v1_Usage, _modelport_v1_Usage__Output>
    }
  }
}

