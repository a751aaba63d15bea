// Original file: ../../protos/modelport/v1/embedding.proto

import type * as grpc from '@grpc/grpc-js'
import type { MethodDefinition } from '@grpc/proto-loader'
import type { EmbedRequest as _modelport_v1_EmbedRequest, EmbedRequest__Output as _modelport_v1_EmbedRequest__Output } from '../../modelport/v1/EmbedRequest.js';
import type { EmbedResponse as _modelport_v1_EmbedResponse, EmbedResponse__Output as _modelport_v1_EmbedResponse__Output } from '../../modelport/v1/EmbedResponse.js';

/**
 * Turns texts into dense vectors.
 */
export interface EmbeddingServiceClient extends grpc.Client {
  /**
   * Embeds every input of the request; results keep the order of `inputs`.
   */
  Embed(argument: _modelport_v1_EmbedRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_modelport_v1_EmbedResponse__Output>): grpc.ClientUnaryCall;
  Embed(argument: _modelport_v1_EmbedRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_modelport_v1_EmbedResponse__Output>): grpc.ClientUnaryCall;
  Embed(argument: _modelport_v1_EmbedRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_modelport_v1_EmbedResponse__Output>): grpc.ClientUnaryCall;
  Embed(argument: _modelport_v1_EmbedRequest, callback: grpc.requestCallback<_modelport_v1_EmbedResponse__Output>): grpc.ClientUnaryCall;
  /**
   * Embeds every input of the request; results keep the order of `inputs`.
   */
  embed(argument: _modelport_v1_EmbedRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_modelport_v1_EmbedResponse__Output>): grpc.ClientUnaryCall;
  embed(argument: _modelport_v1_EmbedRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_modelport_v1_EmbedResponse__Output>): grpc.ClientUnaryCall;
  embed(argument: _modelport_v1_EmbedRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_modelport_v1_EmbedResponse__Output>): grpc.ClientUnaryCall;
  embed(argument: _modelport_v1_EmbedRequest, callback: grpc.requestCallback<_modelport_v1_EmbedResponse__Output>): grpc.ClientUnaryCall;
  
  /**
   * Bulk embedding: each request on the stream is answered by one response, in order.
   * The server works on several requests of one stream at once.
   */
  EmbedStream(metadata: grpc.Metadata, options?: grpc.CallOptions): grpc.ClientDuplexStream<_modelport_v1_EmbedRequest, _modelport_v1_EmbedResponse__Output>;
  EmbedStream(options?: grpc.CallOptions): grpc.ClientDuplexStream<_modelport_v1_EmbedRequest, _modelport_v1_EmbedResponse__Output>;
  /**
   * Bulk embedding: each request on the stream is answered by one response, in order.
   * The server works on several requests of one stream at once.
   */
  embedStream(metadata: grpc.Metadata, options?: grpc.CallOptions): grpc.ClientDuplexStream<_modelport_v1_EmbedRequest, _modelport_v1_EmbedResponse__Output>;
  embedStream(options?: grpc.CallOptions): grpc.ClientDuplexStream<_modelport_v1_EmbedRequest, _modelport_v1_EmbedResponse__Output>;
  
}

/**
 * Turns texts into dense vectors.
 */
export interface EmbeddingServiceHandlers extends grpc.UntypedServiceImplementation {
  /**
   * Embeds every input of the request; results keep the order of `inputs`.
   */
  Embed: grpc.handleUnaryCall<_modelport_v1_EmbedRequest__Output, _modelport_v1_EmbedResponse>;
  
  /**
   * Bulk embedding: each request on the stream is answered by one response, in order.
   * The server works on several requests of one stream at once.
   */
  EmbedStream: grpc.handleBidiStreamingCall<_modelport_v1_EmbedRequest__Output, _modelport_v1_EmbedResponse>;
  
}

export interface EmbeddingServiceDefinition extends grpc.ServiceDefinition {
  Embed: MethodDefinition<_modelport_v1_EmbedRequest, _modelport_v1_EmbedResponse, _modelport_v1_EmbedRequest__Output, _modelport_v1_EmbedResponse__Output>
  EmbedStream: MethodDefinition<_modelport_v1_EmbedRequest, _modelport_v1_EmbedResponse, _modelport_v1_EmbedRequest__Output, _modelport_v1_EmbedResponse__Output>
}
