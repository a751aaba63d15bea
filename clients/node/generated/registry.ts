import type * as grpc from '@grpc/grpc-js';
import type { EnumTypeDefinition, MessageTypeDefinition } from '@grpc/proto-loader';

import type { Duration as _google_protobuf_Duration, Duration__Output as _google_protobuf_Duration__Output } from './google/protobuf/Duration.js';
import type { Timestamp as _google_protobuf_Timestamp, Timestamp__Output as _google_protobuf_Timestamp__Output } from './google/protobuf/Timestamp.js';
import type { Classification as _modelport_v1_Classification, Classification__Output as _modelport_v1_Classification__Output } from './modelport/v1/Classification.js';
import type { DeregisterModelRequest as _modelport_v1_DeregisterModelRequest, DeregisterModelRequest__Output as _modelport_v1_DeregisterModelRequest__Output } from './modelport/v1/DeregisterModelRequest.js';
import type { DeregisterModelResponse as _modelport_v1_DeregisterModelResponse, DeregisterModelResponse__Output as _modelport_v1_DeregisterModelResponse__Output } from './modelport/v1/DeregisterModelResponse.js';
import type { GetModelRequest as _modelport_v1_GetModelRequest, GetModelRequest__Output as _modelport_v1_GetModelRequest__Output } from './modelport/v1/GetModelRequest.js';
import type { GetShadowRequest as _modelport_v1_GetShadowRequest, GetShadowRequest__Output as _modelport_v1_GetShadowRequest__Output } from './modelport/v1/GetShadowRequest.js';
import type { LabelScore as _modelport_v1_LabelScore, LabelScore__Output as _modelport_v1_LabelScore__Output } from './modelport/v1/LabelScore.js';
import type { ListModelsRequest as _modelport_v1_ListModelsRequest, ListModelsRequest__Output as _modelport_v1_ListModelsRequest__Output } from './modelport/v1/ListModelsRequest.js';
import type { ListModelsResponse as _modelport_v1_ListModelsResponse, ListModelsResponse__Output as _modelport_v1_ListModelsResponse__Output } from './modelport/v1/ListModelsResponse.js';
import type { ModelEvent as _modelport_v1_ModelEvent, ModelEvent__Output as _modelport_v1_ModelEvent__Output } from './modelport/v1/ModelEvent.js';
import type { ModelInfo as _modelport_v1_ModelInfo, ModelInfo__Output as _modelport_v1_ModelInfo__Output } from './modelport/v1/ModelInfo.js';
import type { ModelRef as _modelport_v1_ModelRef, ModelRef__Output as _modelport_v1_ModelRef__Output } from './modelport/v1/ModelRef.js';
import type { ModelVersion as _modelport_v1_ModelVersion, ModelVersion__Output as _modelport_v1_ModelVersion__Output } from './modelport/v1/ModelVersion.js';
import type { RegisterModelRequest as _modelport_v1_RegisterModelRequest, RegisterModelRequest__Output as _modelport_v1_RegisterModelRequest__Output } from './modelport/v1/RegisterModelRequest.js';
import type { RegisterModelResponse as _modelport_v1_RegisterModelResponse, RegisterModelResponse__Output as _modelport_v1_RegisterModelResponse__Output } from './modelport/v1/RegisterModelResponse.js';
import type { RegistryServiceClient as _modelport_v1_RegistryServiceClient, RegistryServiceDefinition as _modelport_v1_RegistryServiceDefinition } from './modelport/v1/RegistryService.js';
import type { RenewLeaseRequest as _modelport_v1_RenewLeaseRequest, RenewLeaseRequest__Output as _modelport_v1_RenewLeaseRequest__Output } from './modelport/v1/RenewLeaseRequest.js';
import type { RenewLeaseResponse as _modelport_v1_RenewLeaseResponse, RenewLeaseResponse__Output as _modelport_v1_RenewLeaseResponse__Output } from './modelport/v1/RenewLeaseResponse.js';
import type { Replica as _modelport_v1_Replica, Replica__Output as _modelport_v1_Replica__Output } from './modelport/v1/Replica.js';
import type { SetShadowRequest as _modelport_v1_SetShadowRequest, SetShadowRequest__Output as _modelport_v1_SetShadowRequest__Output } from './modelport/v1/SetShadowRequest.js';
import type { SetTrafficSplitRequest as _modelport_v1_SetTrafficSplitRequest, SetTrafficSplitRequest__Output as _modelport_v1_SetTrafficSplitRequest__Output } from './modelport/v1/SetTrafficSplitRequest.js';
import type { SetTrafficSplitResponse as _modelport_v1_SetTrafficSplitResponse, SetTrafficSplitResponse__Output as _modelport_v1_SetTrafficSplitResponse__Output } from './modelport/v1/SetTrafficSplitResponse.js';
import type { ShadowStatus as _modelport_v1_ShadowStatus, ShadowStatus__Output as _modelport_v1_ShadowStatus__Output } from './modelport/v1/ShadowStatus.js';
import type { Usage as _modelport_v1_Usage, Usage__Output as _modelport_v1_Usage__Output } from './modelport/v1/Usage.js';
import type { WatchModelsRequest as _modelport_v1_WatchModelsRequest, WatchModelsRequest__Output as _modelport_v1_WatchModelsRequest__Output } from './modelport/v1/WatchModelsRequest.js';

type SubtypeConstructor<Constructor extends new (...args: any) => any, Subtype> = {
  new(...args: ConstructorParameters<Constructor>): Subtype;
};

export interface ProtoGrpcType {
  google: {
    protobuf: {
      Duration: MessageTypeDefinition<_google_protobuf_Duration, _google_protobuf_Duration__Output>
      Timestamp: MessageTypeDefinition<_google_protobuf_Timestamp, _google_protobuf_Timestamp__Output>
    }
  }
  modelport: {
    v1: {
      Baseline: EnumTypeDefinition
      Classification: MessageTypeDefinition<_modelport_v1_Classification, _modelport_v1_Classification__Output>
      DeregisterModelRequest: MessageTypeDefinition<_modelport_v1_DeregisterModelRequest, _modelport_v1_DeregisterModelRequest__Output>
      DeregisterModelResponse: MessageTypeDefinition<_modelport_v1_DeregisterModelResponse, _modelport_v1_DeregisterModelResponse__Output>
      ExplainMethod: EnumTypeDefinition
      GetModelRequest: MessageTypeDefinition<_modelport_v1_GetModelRequest, _modelport_v1_GetModelRequest__Output>
      GetShadowRequest: MessageTypeDefinition<_modelport_v1_GetShadowRequest, _modelport_v1_GetShadowRequest__Output>
      LabelScore: MessageTypeDefinition<_modelport_v1_LabelScore, _modelport_v1_LabelScore__Output>
      ListModelsRequest: MessageTypeDefinition<_modelport_v1_ListModelsRequest, _modelport_v1_ListModelsRequest__Output>
      ListModelsResponse: MessageTypeDefinition<_modelport_v1_ListModelsResponse, _modelport_v1_ListModelsResponse__Output>
      ModelEvent: MessageTypeDefinition<_modelport_v1_ModelEvent, _modelport_v1_ModelEvent__Output>
      ModelInfo: MessageTypeDefinition<_modelport_v1_ModelInfo, _modelport_v1_ModelInfo__Output>
      ModelRef: MessageTypeDefinition<_modelport_v1_ModelRef, _modelport_v1_ModelRef__Output>
      ModelState: EnumTypeDefinition
      ModelVersion: MessageTypeDefinition<_modelport_v1_ModelVersion, _modelport_v1_ModelVersion__Output>
      RegisterModelRequest: MessageTypeDefinition<_modelport_v1_RegisterModelRequest, _modelport_v1_RegisterModelRequest__Output>
      RegisterModelResponse: MessageTypeDefinition<_modelport_v1_RegisterModelResponse, _modelport_v1_RegisterModelResponse__Output>
      /**
       * Served by the router (the merged view of every replica) and by each backend (the
       * models that process serves). Register, renew, deregister and traffic splits are
       * router-only and need the admin credential when auth is on.
       */
      RegistryService: SubtypeConstructor<typeof grpc.Client, _modelport_v1_RegistryServiceClient> & { service: _modelport_v1_RegistryServiceDefinition }
      RenewLeaseRequest: MessageTypeDefinition<_modelport_v1_RenewLeaseRequest, _modelport_v1_RenewLeaseRequest__Output>
      RenewLeaseResponse: MessageTypeDefinition<_modelport_v1_RenewLeaseResponse, _modelport_v1_RenewLeaseResponse__Output>
      Replica: MessageTypeDefinition<_modelport_v1_Replica, _modelport_v1_Replica__Output>
      SetShadowRequest: MessageTypeDefinition<_modelport_v1_SetShadowRequest, _modelport_v1_SetShadowRequest__Output>
      SetTrafficSplitRequest: MessageTypeDefinition<_modelport_v1_SetTrafficSplitRequest, _modelport_v1_SetTrafficSplitRequest__Output>
      SetTrafficSplitResponse: MessageTypeDefinition<_modelport_v1_SetTrafficSplitResponse, _modelport_v1_SetTrafficSplitResponse__Output>
      ShadowStatus: MessageTypeDefinition<_modelport_v1_ShadowStatus, _modelport_v1_ShadowStatus__Output>
      Task: EnumTypeDefinition
      Truncation: EnumTypeDefinition
      Usage: MessageTypeDefinition<_modelport_v1_Usage, _modelport_v1_Usage__Output>
      WatchModelsRequest: MessageTypeDefinition<_modelport_v1_WatchModelsRequest, _modelport_v1_WatchModelsRequest__Output>
    }
  }
}

