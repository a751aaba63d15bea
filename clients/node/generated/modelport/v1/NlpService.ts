// Original file: ../../protos/modelport/v1/nlp.proto

import type * as grpc from '@grpc/grpc-js'
import type { MethodDefinition } from '@grpc/proto-loader'
import type { ChatRequest as _modelport_v1_ChatRequest, ChatRequest__Output as _modelport_v1_ChatRequest__Output } from '../../modelport/v1/ChatRequest.js';
import type { ChatResponse as _modelport_v1_ChatResponse, ChatResponse__Output as _modelport_v1_ChatResponse__Output } from '../../modelport/v1/ChatResponse.js';
import type { ChatStreamResponse as _modelport_v1_ChatStreamResponse, ChatStreamResponse__Output as _modelport_v1_ChatStreamResponse__Output } from '../../modelport/v1/ChatStreamResponse.js';
import type { ClassifyRequest as _modelport_v1_ClassifyRequest, ClassifyRequest__Output as _modelport_v1_ClassifyRequest__Output } from '../../modelport/v1/ClassifyRequest.js';
import type { ClassifyResponse as _modelport_v1_ClassifyResponse, ClassifyResponse__Output as _modelport_v1_ClassifyResponse__Output } from '../../modelport/v1/ClassifyResponse.js';
import type { ClassifyTokensRequest as _modelport_v1_ClassifyTokensRequest, ClassifyTokensRequest__Output as _modelport_v1_ClassifyTokensRequest__Output } from '../../modelport/v1/ClassifyTokensRequest.js';
import type { ClassifyTokensResponse as _modelport_v1_ClassifyTokensResponse, ClassifyTokensResponse__Output as _modelport_v1_ClassifyTokensResponse__Output } from '../../modelport/v1/ClassifyTokensResponse.js';
import type { ExplainTextRequest as _modelport_v1_ExplainTextRequest, ExplainTextRequest__Output as _modelport_v1_ExplainTextRequest__Output } from '../../modelport/v1/ExplainTextRequest.js';
import type { ExplainTextResponse as _modelport_v1_ExplainTextResponse, ExplainTextResponse__Output as _modelport_v1_ExplainTextResponse__Output } from '../../modelport/v1/ExplainTextResponse.js';
import type { GenerateRequest as _modelport_v1_GenerateRequest, GenerateRequest__Output as _modelport_v1_GenerateRequest__Output } from '../../modelport/v1/GenerateRequest.js';
import type { GenerateResponse as _modelport_v1_GenerateResponse, GenerateResponse__Output as _modelport_v1_GenerateResponse__Output } from '../../modelport/v1/GenerateResponse.js';
import type { GenerateStreamResponse as _modelport_v1_GenerateStreamResponse, GenerateStreamResponse__Output as _modelport_v1_GenerateStreamResponse__Output } from '../../modelport/v1/GenerateStreamResponse.js';

/**
 * Text classification, entity extraction and text generation.
 */
export interface NlpServiceClient extends grpc.Client {
  /**
   * Answers one conversation with a chat model (its own chat template is applied).
   */
  Chat(argument: _modelport_v1_ChatRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_modelport_v1_ChatResponse__Output>): grpc.ClientUnaryCall;
  Chat(argument: _modelport_v1_ChatRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_modelport_v1_ChatResponse__Output>): grpc.ClientUnaryCall;
  Chat(argument: _modelport_v1_ChatRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_modelport_v1_ChatResponse__Output>): grpc.ClientUnaryCall;
  Chat(argument: _modelport_v1_ChatRequest, callback: grpc.requestCallback<_modelport_v1_ChatResponse__Output>): grpc.ClientUnaryCall;
  /**
   * Answers one conversation with a chat model (its own chat template is applied).
   */
  chat(argument: _modelport_v1_ChatRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_modelport_v1_ChatResponse__Output>): grpc.ClientUnaryCall;
  chat(argument: _modelport_v1_ChatRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_modelport_v1_ChatResponse__Output>): grpc.ClientUnaryCall;
  chat(argument: _modelport_v1_ChatRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_modelport_v1_ChatResponse__Output>): grpc.ClientUnaryCall;
  chat(argument: _modelport_v1_ChatRequest, callback: grpc.requestCallback<_modelport_v1_ChatResponse__Output>): grpc.ClientUnaryCall;
  
  /**
   * Answers one conversation and streams the reply as it is produced; the first chunk
   * carries the role. Cancelling the call frees the model's decoding slot.
   */
  ChatStream(argument: _modelport_v1_ChatRequest, metadata: grpc.Metadata, options?: grpc.CallOptions): grpc.ClientReadableStream<_modelport_v1_ChatStreamResponse__Output>;
  ChatStream(argument: _modelport_v1_ChatRequest, options?: grpc.CallOptions): grpc.ClientReadableStream<_modelport_v1_ChatStreamResponse__Output>;
  /**
   * Answers one conversation and streams the reply as it is produced; the first chunk
   * carries the role. Cancelling the call frees the model's decoding slot.
   */
  chatStream(argument: _modelport_v1_ChatRequest, metadata: grpc.Metadata, options?: grpc.CallOptions): grpc.ClientReadableStream<_modelport_v1_ChatStreamResponse__Output>;
  chatStream(argument: _modelport_v1_ChatRequest, options?: grpc.CallOptions): grpc.ClientReadableStream<_modelport_v1_ChatStreamResponse__Output>;
  
  /**
   * Classifies every input (sentiment, intent, topic ...).
   */
  Classify(argument: _modelport_v1_ClassifyRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_modelport_v1_ClassifyResponse__Output>): grpc.ClientUnaryCall;
  Classify(argument: _modelport_v1_ClassifyRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_modelport_v1_ClassifyResponse__Output>): grpc.ClientUnaryCall;
  Classify(argument: _modelport_v1_ClassifyRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_modelport_v1_ClassifyResponse__Output>): grpc.ClientUnaryCall;
  Classify(argument: _modelport_v1_ClassifyRequest, callback: grpc.requestCallback<_modelport_v1_ClassifyResponse__Output>): grpc.ClientUnaryCall;
  /**
   * Classifies every input (sentiment, intent, topic ...).
   */
  classify(argument: _modelport_v1_ClassifyRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_modelport_v1_ClassifyResponse__Output>): grpc.ClientUnaryCall;
  classify(argument: _modelport_v1_ClassifyRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_modelport_v1_ClassifyResponse__Output>): grpc.ClientUnaryCall;
  classify(argument: _modelport_v1_ClassifyRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_modelport_v1_ClassifyResponse__Output>): grpc.ClientUnaryCall;
  classify(argument: _modelport_v1_ClassifyRequest, callback: grpc.requestCallback<_modelport_v1_ClassifyResponse__Output>): grpc.ClientUnaryCall;
  
  /**
   * Labels spans of every input (named entities ...), with character offsets.
   */
  ClassifyTokens(argument: _modelport_v1_ClassifyTokensRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_modelport_v1_ClassifyTokensResponse__Output>): grpc.ClientUnaryCall;
  ClassifyTokens(argument: _modelport_v1_ClassifyTokensRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_modelport_v1_ClassifyTokensResponse__Output>): grpc.ClientUnaryCall;
  ClassifyTokens(argument: _modelport_v1_ClassifyTokensRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_modelport_v1_ClassifyTokensResponse__Output>): grpc.ClientUnaryCall;
  ClassifyTokens(argument: _modelport_v1_ClassifyTokensRequest, callback: grpc.requestCallback<_modelport_v1_ClassifyTokensResponse__Output>): grpc.ClientUnaryCall;
  /**
   * Labels spans of every input (named entities ...), with character offsets.
   */
  classifyTokens(argument: _modelport_v1_ClassifyTokensRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_modelport_v1_ClassifyTokensResponse__Output>): grpc.ClientUnaryCall;
  classifyTokens(argument: _modelport_v1_ClassifyTokensRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_modelport_v1_ClassifyTokensResponse__Output>): grpc.ClientUnaryCall;
  classifyTokens(argument: _modelport_v1_ClassifyTokensRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_modelport_v1_ClassifyTokensResponse__Output>): grpc.ClientUnaryCall;
  classifyTokens(argument: _modelport_v1_ClassifyTokensRequest, callback: grpc.requestCallback<_modelport_v1_ClassifyTokensResponse__Output>): grpc.ClientUnaryCall;
  
  /**
   * Explains one text classification: how much each token of the input counts for a
   * label (the predicted one by default). Explanations run in their own queue at a lower
   * priority than every other call of the model (`explain_*` settings); a full queue is
   * RESOURCE_EXHAUSTED. Deadlines and cancellation stop the work between step batches.
   */
  Explain(argument: _modelport_v1_ExplainTextRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_modelport_v1_ExplainTextResponse__Output>): grpc.ClientUnaryCall;
  Explain(argument: _modelport_v1_ExplainTextRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_modelport_v1_ExplainTextResponse__Output>): grpc.ClientUnaryCall;
  Explain(argument: _modelport_v1_ExplainTextRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_modelport_v1_ExplainTextResponse__Output>): grpc.ClientUnaryCall;
  Explain(argument: _modelport_v1_ExplainTextRequest, callback: grpc.requestCallback<_modelport_v1_ExplainTextResponse__Output>): grpc.ClientUnaryCall;
  /**
   * Explains one text classification: how much each token of the input counts for a
   * label (the predicted one by default). Explanations run in their own queue at a lower
   * priority than every other call of the model (`explain_*` settings); a full queue is
   * RESOURCE_EXHAUSTED. Deadlines and cancellation stop the work between step batches.
   */
  explain(argument: _modelport_v1_ExplainTextRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_modelport_v1_ExplainTextResponse__Output>): grpc.ClientUnaryCall;
  explain(argument: _modelport_v1_ExplainTextRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_modelport_v1_ExplainTextResponse__Output>): grpc.ClientUnaryCall;
  explain(argument: _modelport_v1_ExplainTextRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_modelport_v1_ExplainTextResponse__Output>): grpc.ClientUnaryCall;
  explain(argument: _modelport_v1_ExplainTextRequest, callback: grpc.requestCallback<_modelport_v1_ExplainTextResponse__Output>): grpc.ClientUnaryCall;
  
  /**
   * Generates a completion for every prompt and answers when all are finished.
   */
  Generate(argument: _modelport_v1_GenerateRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_modelport_v1_GenerateResponse__Output>): grpc.ClientUnaryCall;
  Generate(argument: _modelport_v1_GenerateRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_modelport_v1_GenerateResponse__Output>): grpc.ClientUnaryCall;
  Generate(argument: _modelport_v1_GenerateRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_modelport_v1_GenerateResponse__Output>): grpc.ClientUnaryCall;
  Generate(argument: _modelport_v1_GenerateRequest, callback: grpc.requestCallback<_modelport_v1_GenerateResponse__Output>): grpc.ClientUnaryCall;
  /**
   * Generates a completion for every prompt and answers when all are finished.
   */
  generate(argument: _modelport_v1_GenerateRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_modelport_v1_GenerateResponse__Output>): grpc.ClientUnaryCall;
  generate(argument: _modelport_v1_GenerateRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_modelport_v1_GenerateResponse__Output>): grpc.ClientUnaryCall;
  generate(argument: _modelport_v1_GenerateRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_modelport_v1_GenerateResponse__Output>): grpc.ClientUnaryCall;
  generate(argument: _modelport_v1_GenerateRequest, callback: grpc.requestCallback<_modelport_v1_GenerateResponse__Output>): grpc.ClientUnaryCall;
  
  /**
   * Generates completions and streams text chunks as tokens are produced.
   * Cancelling the call frees the model's decoding slots at the next step.
   */
  GenerateStream(argument: _modelport_v1_GenerateRequest, metadata: grpc.Metadata, options?: grpc.CallOptions): grpc.ClientReadableStream<_modelport_v1_GenerateStreamResponse__Output>;
  GenerateStream(argument: _modelport_v1_GenerateRequest, options?: grpc.CallOptions): grpc.ClientReadableStream<_modelport_v1_GenerateStreamResponse__Output>;
  /**
   * Generates completions and streams text chunks as tokens are produced.
   * Cancelling the call frees the model's decoding slots at the next step.
   */
  generateStream(argument: _modelport_v1_GenerateRequest, metadata: grpc.Metadata, options?: grpc.CallOptions): grpc.ClientReadableStream<_modelport_v1_GenerateStreamResponse__Output>;
  generateStream(argument: _modelport_v1_GenerateRequest, options?: grpc.CallOptions): grpc.ClientReadableStream<_modelport_v1_GenerateStreamResponse__Output>;
  
}

/**
 * Text classification, entity extraction and text generation.
 */
export interface NlpServiceHandlers extends grpc.UntypedServiceImplementation {
  /**
   * Answers one conversation with a chat model (its own chat template is applied).
   */
  Chat: grpc.handleUnaryCall<_modelport_v1_ChatRequest__Output, _modelport_v1_ChatResponse>;
  
  /**
   * Answers one conversation and streams the reply as it is produced; the first chunk
   * carries the role. Cancelling the call frees the model's decoding slot.
   */
  ChatStream: grpc.handleServerStreamingCall<_modelport_v1_ChatRequest__Output, _modelport_v1_ChatStreamResponse>;
  
  /**
   * Classifies every input (sentiment, intent, topic ...).
   */
  Classify: grpc.handleUnaryCall<_modelport_v1_ClassifyRequest__Output, _modelport_v1_ClassifyResponse>;
  
  /**
   * Labels spans of every input (named entities ...), with character offsets.
   */
  ClassifyTokens: grpc.handleUnaryCall<_modelport_v1_ClassifyTokensRequest__Output, _modelport_v1_ClassifyTokensResponse>;
  
  /**
   * Explains one text classification: how much each token of the input counts for a
   * label (the predicted one by default). Explanations run in their own queue at a lower
   * priority than every other call of the model (`explain_*` settings); a full queue is
   * RESOURCE_EXHAUSTED. Deadlines and cancellation stop the work between step batches.
   */
  Explain: grpc.handleUnaryCall<_modelport_v1_ExplainTextRequest__Output, _modelport_v1_ExplainTextResponse>;
  
  /**
   * Generates a completion for every prompt and answers when all are finished.
   */
  Generate: grpc.handleUnaryCall<_modelport_v1_GenerateRequest__Output, _modelport_v1_GenerateResponse>;
  
  /**
   * Generates completions and streams text chunks as tokens are produced.
   * Cancelling the call frees the model's decoding slots at the next step.
   */
  GenerateStream: grpc.handleServerStreamingCall<_modelport_v1_GenerateRequest__Output, _modelport_v1_GenerateStreamResponse>;
  
}

export interface NlpServiceDefinition extends grpc.ServiceDefinition {
  Chat: MethodDefinition<_modelport_v1_ChatRequest, _modelport_v1_ChatResponse, _modelport_v1_ChatRequest__Output, _modelport_v1_ChatResponse__Output>
  ChatStream: MethodDefinition<_modelport_v1_ChatRequest, _modelport_v1_ChatStreamResponse, _modelport_v1_ChatRequest__Output, _modelport_v1_ChatStreamResponse__Output>
  Classify: MethodDefinition<_modelport_v1_ClassifyRequest, _modelport_v1_ClassifyResponse, _modelport_v1_ClassifyRequest__Output, _modelport_v1_ClassifyResponse__Output>
  ClassifyTokens: MethodDefinition<_modelport_v1_ClassifyTokensRequest, _modelport_v1_ClassifyTokensResponse, _modelport_v1_ClassifyTokensRequest__Output, _modelport_v1_ClassifyTokensResponse__Output>
  Explain: MethodDefinition<_modelport_v1_ExplainTextRequest, _modelport_v1_ExplainTextResponse, _modelport_v1_ExplainTextRequest__Output, _modelport_v1_ExplainTextResponse__Output>
  Generate: MethodDefinition<_modelport_v1_GenerateRequest, _modelport_v1_GenerateResponse, _modelport_v1_GenerateRequest__Output, _modelport_v1_GenerateResponse__Output>
  GenerateStream: MethodDefinition<_modelport_v1_GenerateRequest, _modelport_v1_GenerateStreamResponse, _modelport_v1_GenerateRequest__Output, _modelport_v1_GenerateStreamResponse__Output>
}
