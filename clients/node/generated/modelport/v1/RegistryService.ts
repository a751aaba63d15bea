// Original file: ../../protos/modelport/v1/registry.proto

import type * as grpc from '@grpc/grpc-js'
import type { MethodDefinition } from '@grpc/proto-loader'
import type { DeregisterModelRequest as _modelport_v1_DeregisterModelRequest, DeregisterModelRequest__Output as _modelport_v1_DeregisterModelRequest__Output } from '../../modelport/v1/DeregisterModelRequest.js';
import type { DeregisterModelResponse as _modelport_v1_DeregisterModelResponse, DeregisterModelResponse__Output as _modelport_v1_DeregisterModelResponse__Output } from '../../modelport/v1/DeregisterModelResponse.js';
import type { GetModelRequest as _modelport_v1_GetModelRequest, GetModelRequest__Output as _modelport_v1_GetModelRequest__Output } from '../../modelport/v1/GetModelRequest.js';
import type { GetShadowRequest as _modelport_v1_GetShadowRequest, GetShadowRequest__Output as _modelport_v1_GetShadowRequest__Output } from '../../modelport/v1/GetShadowRequest.js';
import type { ListModelsRequest as _modelport_v1_ListModelsRequest, ListModelsRequest__Output as _modelport_v1_ListModelsRequest__Output } from '../../modelport/v1/ListModelsRequest.js';
import type { ListModelsResponse as _modelport_v1_ListModelsResponse, ListModelsResponse__Output as _modelport_v1_ListModelsResponse__Output } from '../../modelport/v1/ListModelsResponse.js';
import type { ModelEvent as _modelport_v1_ModelEvent, ModelEvent__Output as _modelport_v1_ModelEvent__Output } from '../../modelport/v1/ModelEvent.js';
import type { ModelInfo as _modelport_v1_ModelInfo, ModelInfo__Output as _modelport_v1_ModelInfo__Output } from '../../modelport/v1/ModelInfo.js';
import type { RegisterModelRequest as _modelport_v1_RegisterModelRequest, RegisterModelRequest__Output as _modelport_v1_RegisterModelRequest__Output } from '../../modelport/v1/RegisterModelRequest.js';
import type { RegisterModelResponse as _modelport_v1_RegisterModelResponse, RegisterModelResponse__Output as _modelport_v1_RegisterModelResponse__Output } from '../../modelport/v1/RegisterModelResponse.js';
import type { RenewLeaseRequest as _modelport_v1_RenewLeaseRequest, RenewLeaseRequest__Output as _modelport_v1_RenewLeaseRequest__Output } from '../../modelport/v1/RenewLeaseRequest.js';
import type { RenewLeaseResponse as _modelport_v1_RenewLeaseResponse, RenewLeaseResponse__Output as _modelport_v1_RenewLeaseResponse__Output } from '../../modelport/v1/RenewLeaseResponse.js';
import type { SetShadowRequest as _modelport_v1_SetShadowRequest, SetShadowRequest__Output as _modelport_v1_SetShadowRequest__Output } from '../../modelport/v1/SetShadowRequest.js';
import type { SetTrafficSplitRequest as _modelport_v1_SetTrafficSplitRequest, SetTrafficSplitRequest__Output as _modelport_v1_SetTrafficSplitRequest__Output } from '../../modelport/v1/SetTrafficSplitRequest.js';
import type { SetTrafficSplitResponse as _modelport_v1_SetTrafficSplitResponse, SetTrafficSplitResponse__Output as _modelport_v1_SetTrafficSplitResponse__Output } from '../../modelport/v1/SetTrafficSplitResponse.js';
import type { ShadowStatus as _modelport_v1_ShadowStatus, ShadowStatus__Output as _modelport_v1_ShadowStatus__Output } from '../../modelport/v1/ShadowStatus.js';
import type { WatchModelsRequest as _modelport_v1_WatchModelsRequest, WatchModelsRequest__Output as _modelport_v1_WatchModelsRequest__Output } from '../../modelport/v1/WatchModelsRequest.js';

/**
 * Served by the router (the merged view of every replica) and by each backend (the
 * models that process serves). Register, renew, deregister and traffic splits are
 * router-only and need the admin credential when auth is on.
 */
export interface RegistryServiceClient extends grpc.Client {
  /**
   * Removes one replica of one model version.
   */
  DeregisterModel(argument: _modelport_v1_DeregisterModelRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_modelport_v1_DeregisterModelResponse__Output>): grpc.ClientUnaryCall;
  DeregisterModel(argument: _modelport_v1_DeregisterModelRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_modelport_v1_DeregisterModelResponse__Output>): grpc.ClientUnaryCall;
  DeregisterModel(argument: _modelport_v1_DeregisterModelRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_modelport_v1_DeregisterModelResponse__Output>): grpc.ClientUnaryCall;
  DeregisterModel(argument: _modelport_v1_DeregisterModelRequest, callback: grpc.requestCallback<_modelport_v1_DeregisterModelResponse__Output>): grpc.ClientUnaryCall;
  /**
   * Removes one replica of one model version.
   */
  deregisterModel(argument: _modelport_v1_DeregisterModelRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_modelport_v1_DeregisterModelResponse__Output>): grpc.ClientUnaryCall;
  deregisterModel(argument: _modelport_v1_DeregisterModelRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_modelport_v1_DeregisterModelResponse__Output>): grpc.ClientUnaryCall;
  deregisterModel(argument: _modelport_v1_DeregisterModelRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_modelport_v1_DeregisterModelResponse__Output>): grpc.ClientUnaryCall;
  deregisterModel(argument: _modelport_v1_DeregisterModelRequest, callback: grpc.requestCallback<_modelport_v1_DeregisterModelResponse__Output>): grpc.ClientUnaryCall;
  
  /**
   * Describes one model. NOT_FOUND if it is unknown.
   */
  GetModel(argument: _modelport_v1_GetModelRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_modelport_v1_ModelInfo__Output>): grpc.ClientUnaryCall;
  GetModel(argument: _modelport_v1_GetModelRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_modelport_v1_ModelInfo__Output>): grpc.ClientUnaryCall;
  GetModel(argument: _modelport_v1_GetModelRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_modelport_v1_ModelInfo__Output>): grpc.ClientUnaryCall;
  GetModel(argument: _modelport_v1_GetModelRequest, callback: grpc.requestCallback<_modelport_v1_ModelInfo__Output>): grpc.ClientUnaryCall;
  /**
   * Describes one model. NOT_FOUND if it is unknown.
   */
  getModel(argument: _modelport_v1_GetModelRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_modelport_v1_ModelInfo__Output>): grpc.ClientUnaryCall;
  getModel(argument: _modelport_v1_GetModelRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_modelport_v1_ModelInfo__Output>): grpc.ClientUnaryCall;
  getModel(argument: _modelport_v1_GetModelRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_modelport_v1_ModelInfo__Output>): grpc.ClientUnaryCall;
  getModel(argument: _modelport_v1_GetModelRequest, callback: grpc.requestCallback<_modelport_v1_ModelInfo__Output>): grpc.ClientUnaryCall;
  
  /**
   * What a model's shadow compared so far. NOT_FOUND when none is set.
   */
  GetShadow(argument: _modelport_v1_GetShadowRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_modelport_v1_ShadowStatus__Output>): grpc.ClientUnaryCall;
  GetShadow(argument: _modelport_v1_GetShadowRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_modelport_v1_ShadowStatus__Output>): grpc.ClientUnaryCall;
  GetShadow(argument: _modelport_v1_GetShadowRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_modelport_v1_ShadowStatus__Output>): grpc.ClientUnaryCall;
  GetShadow(argument: _modelport_v1_GetShadowRequest, callback: grpc.requestCallback<_modelport_v1_ShadowStatus__Output>): grpc.ClientUnaryCall;
  /**
   * What a model's shadow compared so far. NOT_FOUND when none is set.
   */
  getShadow(argument: _modelport_v1_GetShadowRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_modelport_v1_ShadowStatus__Output>): grpc.ClientUnaryCall;
  getShadow(argument: _modelport_v1_GetShadowRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_modelport_v1_ShadowStatus__Output>): grpc.ClientUnaryCall;
  getShadow(argument: _modelport_v1_GetShadowRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_modelport_v1_ShadowStatus__Output>): grpc.ClientUnaryCall;
  getShadow(argument: _modelport_v1_GetShadowRequest, callback: grpc.requestCallback<_modelport_v1_ShadowStatus__Output>): grpc.ClientUnaryCall;
  
  /**
   * Lists models with their versions and replicas.
   */
  ListModels(argument: _modelport_v1_ListModelsRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_modelport_v1_ListModelsResponse__Output>): grpc.ClientUnaryCall;
  ListModels(argument: _modelport_v1_ListModelsRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_modelport_v1_ListModelsResponse__Output>): grpc.ClientUnaryCall;
  ListModels(argument: _modelport_v1_ListModelsRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_modelport_v1_ListModelsResponse__Output>): grpc.ClientUnaryCall;
  ListModels(argument: _modelport_v1_ListModelsRequest, callback: grpc.requestCallback<_modelport_v1_ListModelsResponse__Output>): grpc.ClientUnaryCall;
  /**
   * Lists models with their versions and replicas.
   */
  listModels(argument: _modelport_v1_ListModelsRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_modelport_v1_ListModelsResponse__Output>): grpc.ClientUnaryCall;
  listModels(argument: _modelport_v1_ListModelsRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_modelport_v1_ListModelsResponse__Output>): grpc.ClientUnaryCall;
  listModels(argument: _modelport_v1_ListModelsRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_modelport_v1_ListModelsResponse__Output>): grpc.ClientUnaryCall;
  listModels(argument: _modelport_v1_ListModelsRequest, callback: grpc.requestCallback<_modelport_v1_ListModelsResponse__Output>): grpc.ClientUnaryCall;
  
  /**
   * Registers one replica of one model version. Backends call it when a model becomes
   * READY; admins call it with `persistent` for external endpoints.
   */
  RegisterModel(argument: _modelport_v1_RegisterModelRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_modelport_v1_RegisterModelResponse__Output>): grpc.ClientUnaryCall;
  RegisterModel(argument: _modelport_v1_RegisterModelRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_modelport_v1_RegisterModelResponse__Output>): grpc.ClientUnaryCall;
  RegisterModel(argument: _modelport_v1_RegisterModelRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_modelport_v1_RegisterModelResponse__Output>): grpc.ClientUnaryCall;
  RegisterModel(argument: _modelport_v1_RegisterModelRequest, callback: grpc.requestCallback<_modelport_v1_RegisterModelResponse__Output>): grpc.ClientUnaryCall;
  /**
   * Registers one replica of one model version. Backends call it when a model becomes
   * READY; admins call it with `persistent` for external endpoints.
   */
  registerModel(argument: _modelport_v1_RegisterModelRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_modelport_v1_RegisterModelResponse__Output>): grpc.ClientUnaryCall;
  registerModel(argument: _modelport_v1_RegisterModelRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_modelport_v1_RegisterModelResponse__Output>): grpc.ClientUnaryCall;
  registerModel(argument: _modelport_v1_RegisterModelRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_modelport_v1_RegisterModelResponse__Output>): grpc.ClientUnaryCall;
  registerModel(argument: _modelport_v1_RegisterModelRequest, callback: grpc.requestCallback<_modelport_v1_RegisterModelResponse__Output>): grpc.ClientUnaryCall;
  
  /**
   * Keeps leased registrations alive. Unknown leases are reported back so the caller
   * registers again (after a router restart, say).
   */
  RenewLease(argument: _modelport_v1_RenewLeaseRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_modelport_v1_RenewLeaseResponse__Output>): grpc.ClientUnaryCall;
  RenewLease(argument: _modelport_v1_RenewLeaseRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_modelport_v1_RenewLeaseResponse__Output>): grpc.ClientUnaryCall;
  RenewLease(argument: _modelport_v1_RenewLeaseRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_modelport_v1_RenewLeaseResponse__Output>): grpc.ClientUnaryCall;
  RenewLease(argument: _modelport_v1_RenewLeaseRequest, callback: grpc.requestCallback<_modelport_v1_RenewLeaseResponse__Output>): grpc.ClientUnaryCall;
  /**
   * Keeps leased registrations alive. Unknown leases are reported back so the caller
   * registers again (after a router restart, say).
   */
  renewLease(argument: _modelport_v1_RenewLeaseRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_modelport_v1_RenewLeaseResponse__Output>): grpc.ClientUnaryCall;
  renewLease(argument: _modelport_v1_RenewLeaseRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_modelport_v1_RenewLeaseResponse__Output>): grpc.ClientUnaryCall;
  renewLease(argument: _modelport_v1_RenewLeaseRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_modelport_v1_RenewLeaseResponse__Output>): grpc.ClientUnaryCall;
  renewLease(argument: _modelport_v1_RenewLeaseRequest, callback: grpc.requestCallback<_modelport_v1_RenewLeaseResponse__Output>): grpc.ClientUnaryCall;
  
  /**
   * Mirrors a share of a model's unpinned calls to another version (router only; admin).
   * The copies are sent after the caller's answer, never delay or change it, and their
   * answers are only compared with the caller's: label agreement, vector cosine.
   * Setting it again (or a fraction of 0, which stops it) starts the counts anew.
   */
  SetShadow(argument: _modelport_v1_SetShadowRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_modelport_v1_ShadowStatus__Output>): grpc.ClientUnaryCall;
  SetShadow(argument: _modelport_v1_SetShadowRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_modelport_v1_ShadowStatus__Output>): grpc.ClientUnaryCall;
  SetShadow(argument: _modelport_v1_SetShadowRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_modelport_v1_ShadowStatus__Output>): grpc.ClientUnaryCall;
  SetShadow(argument: _modelport_v1_SetShadowRequest, callback: grpc.requestCallback<_modelport_v1_ShadowStatus__Output>): grpc.ClientUnaryCall;
  /**
   * Mirrors a share of a model's unpinned calls to another version (router only; admin).
   * The copies are sent after the caller's answer, never delay or change it, and their
   * answers are only compared with the caller's: label agreement, vector cosine.
   * Setting it again (or a fraction of 0, which stops it) starts the counts anew.
   */
  setShadow(argument: _modelport_v1_SetShadowRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_modelport_v1_ShadowStatus__Output>): grpc.ClientUnaryCall;
  setShadow(argument: _modelport_v1_SetShadowRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_modelport_v1_ShadowStatus__Output>): grpc.ClientUnaryCall;
  setShadow(argument: _modelport_v1_SetShadowRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_modelport_v1_ShadowStatus__Output>): grpc.ClientUnaryCall;
  setShadow(argument: _modelport_v1_SetShadowRequest, callback: grpc.requestCallback<_modelport_v1_ShadowStatus__Output>): grpc.ClientUnaryCall;
  
  /**
   * Splits traffic for requests without a pinned version between versions (canary).
   */
  SetTrafficSplit(argument: _modelport_v1_SetTrafficSplitRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_modelport_v1_SetTrafficSplitResponse__Output>): grpc.ClientUnaryCall;
  SetTrafficSplit(argument: _modelport_v1_SetTrafficSplitRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_modelport_v1_SetTrafficSplitResponse__Output>): grpc.ClientUnaryCall;
  SetTrafficSplit(argument: _modelport_v1_SetTrafficSplitRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_modelport_v1_SetTrafficSplitResponse__Output>): grpc.ClientUnaryCall;
  SetTrafficSplit(argument: _modelport_v1_SetTrafficSplitRequest, callback: grpc.requestCallback<_modelport_v1_SetTrafficSplitResponse__Output>): grpc.ClientUnaryCall;
  /**
   * Splits traffic for requests without a pinned version between versions (canary).
   */
  setTrafficSplit(argument: _modelport_v1_SetTrafficSplitRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_modelport_v1_SetTrafficSplitResponse__Output>): grpc.ClientUnaryCall;
  setTrafficSplit(argument: _modelport_v1_SetTrafficSplitRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_modelport_v1_SetTrafficSplitResponse__Output>): grpc.ClientUnaryCall;
  setTrafficSplit(argument: _modelport_v1_SetTrafficSplitRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_modelport_v1_SetTrafficSplitResponse__Output>): grpc.ClientUnaryCall;
  setTrafficSplit(argument: _modelport_v1_SetTrafficSplitRequest, callback: grpc.requestCallback<_modelport_v1_SetTrafficSplitResponse__Output>): grpc.ClientUnaryCall;
  
  /**
   * Streams the current state of every model, then every change.
   */
  WatchModels(argument: _modelport_v1_WatchModelsRequest, metadata: grpc.Metadata, options?: grpc.CallOptions): grpc.ClientReadableStream<_modelport_v1_ModelEvent__Output>;
  WatchModels(argument: _modelport_v1_WatchModelsRequest, options?: grpc.CallOptions): grpc.ClientReadableStream<_modelport_v1_ModelEvent__Output>;
  /**
   * Streams the current state of every model, then every change.
   */
  watchModels(argument: _modelport_v1_WatchModelsRequest, metadata: grpc.Metadata, options?: grpc.CallOptions): grpc.ClientReadableStream<_modelport_v1_ModelEvent__Output>;
  watchModels(argument: _modelport_v1_WatchModelsRequest, options?: grpc.CallOptions): grpc.ClientReadableStream<_modelport_v1_ModelEvent__Output>;
  
}

/**
 * Served by the router (the merged view of every replica) and by each backend (the
 * models that process serves). Register, renew, deregister and traffic splits are
 * router-only and need the admin credential when auth is on.
 */
export interface RegistryServiceHandlers extends grpc.UntypedServiceImplementation {
  /**
   * Removes one replica of one model version.
   */
  DeregisterModel: grpc.handleUnaryCall<_modelport_v1_DeregisterModelRequest__Output, _modelport_v1_DeregisterModelResponse>;
  
  /**
   * Describes one model. NOT_FOUND if it is unknown.
   */
  GetModel: grpc.handleUnaryCall<_modelport_v1_GetModelRequest__Output, _modelport_v1_ModelInfo>;
  
  /**
   * What a model's shadow compared so far. NOT_FOUND when none is set.
   */
  GetShadow: grpc.handleUnaryCall<_modelport_v1_GetShadowRequest__Output, _modelport_v1_ShadowStatus>;
  
  /**
   * Lists models with their versions and replicas.
   */
  ListModels: grpc.handleUnaryCall<_modelport_v1_ListModelsRequest__Output, _modelport_v1_ListModelsResponse>;
  
  /**
   * Registers one replica of one model version. Backends call it when a model becomes
   * READY; admins call it with `persistent` for external endpoints.
   */
  RegisterModel: grpc.handleUnaryCall<_modelport_v1_RegisterModelRequest__Output, _modelport_v1_RegisterModelResponse>;
  
  /**
   * Keeps leased registrations alive. Unknown leases are reported back so the caller
   * registers again (after a router restart, say).
   */
  RenewLease: grpc.handleUnaryCall<_modelport_v1_RenewLeaseRequest__Output, _modelport_v1_RenewLeaseResponse>;
  
  /**
   * Mirrors a share of a model's unpinned calls to another version (router only; admin).
   * The copies are sent after the caller's answer, never delay or change it, and their
   * answers are only compared with the caller's: label agreement, vector cosine.
   * Setting it again (or a fraction of 0, which stops it) starts the counts anew.
   */
  SetShadow: grpc.handleUnaryCall<_modelport_v1_SetShadowRequest__Output, _modelport_v1_ShadowStatus>;
  
  /**
   * Splits traffic for requests without a pinned version between versions (canary).
   */
  SetTrafficSplit: grpc.handleUnaryCall<_modelport_v1_SetTrafficSplitRequest__Output, _modelport_v1_SetTrafficSplitResponse>;
  
  /**
   * Streams the current state of every model, then every change.
   */
  WatchModels: grpc.handleServerStreamingCall<_modelport_v1_WatchModelsRequest__Output, _modelport_v1_ModelEvent>;
  
}

export interface RegistryServiceDefinition extends grpc.ServiceDefinition {
  DeregisterModel: MethodDefinition<_modelport_v1_DeregisterModelRequest, _modelport_v1_DeregisterModelResponse, _modelport_v1_DeregisterModelRequest__Output, _modelport_v1_DeregisterModelResponse__Output>
  GetModel: MethodDefinition<_modelport_v1_GetModelRequest, _modelport_v1_ModelInfo, _modelport_v1_GetModelRequest__Output, _modelport_v1_ModelInfo__Output>
  GetShadow: MethodDefinition<_modelport_v1_GetShadowRequest, _modelport_v1_ShadowStatus, _modelport_v1_GetShadowRequest__Output, _modelport_v1_ShadowStatus__Output>
  ListModels: MethodDefinition<_modelport_v1_ListModelsRequest, _modelport_v1_ListModelsResponse, _modelport_v1_ListModelsRequest__Output, _modelport_v1_ListModelsResponse__Output>
  RegisterModel: MethodDefinition<_modelport_v1_RegisterModelRequest, _modelport_v1_RegisterModelResponse, _modelport_v1_RegisterModelRequest__Output, _modelport_v1_RegisterModelResponse__Output>
  RenewLease: MethodDefinition<_modelport_v1_RenewLeaseRequest, _modelport_v1_RenewLeaseResponse, _modelport_v1_RenewLeaseRequest__Output, _modelport_v1_RenewLeaseResponse__Output>
  SetShadow: MethodDefinition<_modelport_v1_SetShadowRequest, _modelport_v1_ShadowStatus, _modelport_v1_SetShadowRequest__Output, _modelport_v1_ShadowStatus__Output>
  SetTrafficSplit: MethodDefinition<_modelport_v1_SetTrafficSplitRequest, _modelport_v1_SetTrafficSplitResponse, _modelport_v1_SetTrafficSplitRequest__Output, _modelport_v1_SetTrafficSplitResponse__Output>
  WatchModels: MethodDefinition<_modelport_v1_WatchModelsRequest, _modelport_v1_ModelEvent, _modelport_v1_WatchModelsRequest__Output, _modelport_v1_ModelEvent__Output>
}
