import type * as grpc from '@grpc/grpc-js';
import type { EnumTypeDefinition, MessageTypeDefinition } from '@grpc/proto-loader';

import type { Classification as _modelport_v1_Classification, Classification__Output as _modelport_v1_Classification__Output } from './modelport/v1/Classification.js';
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

