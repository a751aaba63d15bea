import type * as grpc from '@grpc/grpc-js';
import type { EnumTypeDefinition, MessageTypeDefinition } from '@grpc/proto-loader';

import type { ChatMessage as _modelport_v1_ChatMessage, ChatMessage__Output as _modelport_v1_ChatMessage__Output } from './modelport/v1/ChatMessage.js';
import type { ChatRequest as _modelport_v1_ChatRequest, ChatRequest__Output as _modelport_v1_ChatRequest__Output } from './modelport/v1/ChatRequest.js';
import type { ChatResponse as _modelport_v1_ChatResponse, ChatResponse__Output as _modelport_v1_ChatResponse__Output } from './modelport/v1/ChatResponse.js';
import type { ChatStreamResponse as _modelport_v1_ChatStreamResponse, ChatStreamResponse__Output as _modelport_v1_ChatStreamResponse__Output } from './modelport/v1/ChatStreamResponse.js';
import type { Classification as _modelport_v1_Classification, Classification__Output as _modelport_v1_Classification__Output } from './modelport/v1/Classification.js';
import type { ClassifyRequest as _modelport_v1_ClassifyRequest, ClassifyRequest__Output as _modelport_v1_ClassifyRequest__Output } from './modelport/v1/ClassifyRequest.js';
import type { ClassifyResponse as _modelport_v1_ClassifyResponse, ClassifyResponse__Output as _modelport_v1_ClassifyResponse__Output } from './modelport/v1/ClassifyResponse.js';
import type { ClassifyTokensRequest as _modelport_v1_ClassifyTokensRequest, ClassifyTokensRequest__Output as _modelport_v1_ClassifyTokensRequest__Output } from './modelport/v1/ClassifyTokensRequest.js';
import type { ClassifyTokensResponse as _modelport_v1_ClassifyTokensResponse, ClassifyTokensResponse__Output as _modelport_v1_ClassifyTokensResponse__Output } from './modelport/v1/ClassifyTokensResponse.js';
import type { Entity as _modelport_v1_Entity, Entity__Output as _modelport_v1_Entity__Output } from './modelport/v1/Entity.js';
import type { ExplainTextRequest as _modelport_v1_ExplainTextRequest, ExplainTextRequest__Output as _modelport_v1_ExplainTextRequest__Output } from './modelport/v1/ExplainTextRequest.js';
import type { ExplainTextResponse as _modelport_v1_ExplainTextResponse, ExplainTextResponse__Output as _modelport_v1_ExplainTextResponse__Output } from './modelport/v1/ExplainTextResponse.js';
import type { GenerateRequest as _modelport_v1_GenerateRequest, GenerateRequest__Output as _modelport_v1_GenerateRequest__Output } from './modelport/v1/GenerateRequest.js';
import type { GenerateResponse as _modelport_v1_GenerateResponse, GenerateResponse__Output as _modelport_v1_GenerateResponse__Output } from './modelport/v1/GenerateResponse.js';
import type { GenerateStreamResponse as _modelport_v1_GenerateStreamResponse, GenerateStreamResponse__Output as _modelport_v1_GenerateStreamResponse__Output } from './modelport/v1/GenerateStreamResponse.js';
import type { Generation as _modelport_v1_Generation, Generation__Output as _modelport_v1_Generation__Output } from './modelport/v1/Generation.js';
import type { GenerationParameters as _modelport_v1_GenerationParameters, GenerationParameters__Output as _modelport_v1_GenerationParameters__Output } from './modelport/v1/GenerationParameters.js';
import type { LabelScore as _modelport_v1_LabelScore, LabelScore__Output as _modelport_v1_LabelScore__Output } from './modelport/v1/LabelScore.js';
import type { ModelRef as _modelport_v1_ModelRef, ModelRef__Output as _modelport_v1_ModelRef__Output } from './modelport/v1/ModelRef.js';
import type { NlpServiceClient as _modelport_v1_NlpServiceClient, NlpServiceDefinition as _modelport_v1_NlpServiceDefinition } from './modelport/v1/NlpService.js';
import type { TokenAttribution as _modelport_v1_TokenAttribution, TokenAttribution__Output as _modelport_v1_TokenAttribution__Output } from './modelport/v1/TokenAttribution.js';
import type { TokenClassification as _modelport_v1_TokenClassification, TokenClassification__Output as _modelport_v1_TokenClassification__Output } from './modelport/v1/TokenClassification.js';
import type { Usage as _modelport_v1_Usage, Usage__Output as _modelport_v1_Usage__Output } from './modelport/v1/Usage.js';

type SubtypeConstructor<Constructor extends new (...args: any) => any, Subtype> = {
  new(...args: ConstructorParameters<Constructor>): Subtype;
};

export interface ProtoGrpcType {
  modelport: {
    v1: {
      Aggregation: EnumTypeDefinition
      Baseline: EnumTypeDefinition
      ChatMessage: MessageTypeDefinition<_modelport_v1_ChatMessage, _modelport_v1_ChatMessage__Output>
      ChatRequest: MessageTypeDefinition<_modelport_v1_ChatRequest, _modelport_v1_ChatRequest__Output>
      ChatResponse: MessageTypeDefinition<_modelport_v1_ChatResponse, _modelport_v1_ChatResponse__Output>
      ChatStreamResponse: MessageTypeDefinition<_modelport_v1_ChatStreamResponse, _modelport_v1_ChatStreamResponse__Output>
      Classification: MessageTypeDefinition<_modelport_v1_Classification, _modelport_v1_Classification__Output>
      ClassifyRequest: MessageTypeDefinition<_modelport_v1_ClassifyRequest, _modelport_v1_ClassifyRequest__Output>
      ClassifyResponse: MessageTypeDefinition<_modelport_v1_ClassifyResponse, _modelport_v1_ClassifyResponse__Output>
      ClassifyTokensRequest: MessageTypeDefinition<_modelport_v1_ClassifyTokensRequest, _modelport_v1_ClassifyTokensRequest__Output>
      ClassifyTokensResponse: MessageTypeDefinition<_modelport_v1_ClassifyTokensResponse, _modelport_v1_ClassifyTokensResponse__Output>
      Entity: MessageTypeDefinition<_modelport_v1_Entity, _modelport_v1_Entity__Output>
      ExplainMethod: EnumTypeDefinition
      ExplainTextRequest: MessageTypeDefinition<_modelport_v1_ExplainTextRequest, _modelport_v1_ExplainTextRequest__Output>
      ExplainTextResponse: MessageTypeDefinition<_modelport_v1_ExplainTextResponse, _modelport_v1_ExplainTextResponse__Output>
      FinishReason: EnumTypeDefinition
      GenerateRequest: MessageTypeDefinition<_modelport_v1_GenerateRequest, _modelport_v1_GenerateRequest__Output>
      GenerateResponse: MessageTypeDefinition<_modelport_v1_GenerateResponse, _modelport_v1_GenerateResponse__Output>
      GenerateStreamResponse: MessageTypeDefinition<_modelport_v1_GenerateStreamResponse, _modelport_v1_GenerateStreamResponse__Output>
      Generation: MessageTypeDefinition<_modelport_v1_Generation, _modelport_v1_Generation__Output>
      GenerationParameters: MessageTypeDefinition<_modelport_v1_GenerationParameters, _modelport_v1_GenerationParameters__Output>
      LabelScore: MessageTypeDefinition<_modelport_v1_LabelScore, _modelport_v1_LabelScore__Output>
      ModelRef: MessageTypeDefinition<_modelport_v1_ModelRef, _modelport_v1_ModelRef__Output>
      ModelState: EnumTypeDefinition
      /**
       * Text classification, entity extraction and text generation.
       */
      NlpService: SubtypeConstructor<typeof grpc.Client, _modelport_v1_NlpServiceClient> & { service: _modelport_v1_NlpServiceDefinition }
      Task: EnumTypeDefinition
      TokenAttribution: MessageTypeDefinition<_modelport_v1_TokenAttribution, _modelport_v1_TokenAttribution__Output>
      TokenClassification: MessageTypeDefinition<_modelport_v1_TokenClassification, _modelport_v1_TokenClassification__Output>
      Truncation: EnumTypeDefinition
      Usage: MessageTypeDefinition<_modelport_v1_Usage, _modelport_v1_Usage__Output>
    }
  }
}

