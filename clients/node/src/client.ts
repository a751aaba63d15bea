// Typed Modelport clients for Node.js: the protos are loaded at run time with
// @grpc/proto-loader; the types come from `npm run generate` (generated/, committed).
import * as grpc from "@grpc/grpc-js";
import * as protoLoader from "@grpc/proto-loader";
import { fileURLToPath } from "node:url";
import path from "node:path";

import type { ProtoGrpcType as Embedding } from "../generated/embedding.js";
import type { ProtoGrpcType as Nlp } from "../generated/nlp.js";
import type { ProtoGrpcType as Registry } from "../generated/registry.js";
import type { ProtoGrpcType as Vision } from "../generated/vision.js";
import type { EmbeddingServiceClient } from "../generated/modelport/v1/EmbeddingService.js";
import type { NlpServiceClient } from "../generated/modelport/v1/NlpService.js";
import type { RegistryServiceClient } from "../generated/modelport/v1/RegistryService.js";
import type { VisionServiceClient } from "../generated/modelport/v1/VisionService.js";

const here = path.dirname(fileURLToPath(import.meta.url));
/** protos/ of the repository (override with MODELPORT_PROTOS). */
export const PROTOS = process.env.MODELPORT_PROTOS ?? path.resolve(here, "../../../../protos");

const FILES = ["common", "embedding", "nlp", "vision", "registry"].map(
  (name) => `modelport/v1/${name}.proto`,
);

/** The same options as `npm run generate`, so values match the generated types. */
const LOADER_OPTIONS: protoLoader.Options = {
  longs: String,
  enums: String,
  defaults: true,
  oneofs: true,
  includeDirs: [PROTOS],
};

export interface Modelport {
  embedding: EmbeddingServiceClient;
  nlp: NlpServiceClient;
  vision: VisionServiceClient;
  registry: RegistryServiceClient;
  close(): void;
}

/** Metadata naming the model (and version) of a call: Envoy in front of the router
 * sends a call that has them straight to a replica; the router ignores them. */
export const MODEL_HEADER = "x-modelport-model";
export const VERSION_HEADER = "x-modelport-version";

/** Sets `x-modelport-model` (and `x-modelport-version`) from the `model` field of a
 * call's first message: the call's headers wait for that message. */
export const routeByModel: grpc.Interceptor = (options, nextCall) => {
  let pending: (() => void) | undefined;
  let headers: grpc.Metadata | undefined;
  const flush = () => {
    const start = pending;
    pending = undefined;
    start?.();
  };
  return new grpc.InterceptingCall(nextCall(options), {
    start(metadata, listener, next) {
      pending = () => next(metadata, listener);
      headers = metadata;
    },
    sendMessage(message, next) {
      if (pending) {
        const model = (message as { model?: { name?: string; version?: string } } | null)
          ?.model;
        if (model?.name && headers && !headers.get(MODEL_HEADER).length) {
          headers.set(MODEL_HEADER, model.name);
          if (model.version) headers.set(VERSION_HEADER, model.version);
        }
        flush();
      }
      next(message);
    },
    halfClose(next) {
      flush();
      next();
    },
  });
};

/** Stubs for a router (or any backend) at `target` ("host:port"), sharing one channel.
 * Every call names its model in `x-modelport-model` (`routeByModel`). */
export function connect(
  target: string,
  credentials: grpc.ChannelCredentials = grpc.credentials.createInsecure(),
): Modelport {
  const definition = protoLoader.loadSync(FILES, LOADER_OPTIONS);
  const proto = grpc.loadPackageDefinition(definition) as unknown as Embedding &
    Nlp &
    Vision &
    Registry;
  const v1 = proto.modelport.v1;
  const interceptors = [routeByModel];
  const embedding = new v1.EmbeddingService(target, credentials, { interceptors });
  const channel = embedding.getChannel();
  const options = { channelOverride: channel, interceptors };
  return {
    embedding,
    nlp: new v1.NlpService(target, credentials, options),
    vision: new v1.VisionService(target, credentials, options),
    registry: new v1.RegistryService(target, credentials, options),
    close: () => embedding.close(),
  };
}

/** A deadline `seconds` from now, for the `deadline` call option. */
export function deadline(seconds: number): Date {
  return new Date(Date.now() + seconds * 1000);
}

/** Promise of a unary call: `call(cb => stub.Method(request, options, cb))`. */
export function call<Res>(
  start: (callback: (error: grpc.ServiceError | null, response?: Res) => void) => unknown,
): Promise<Res> {
  return new Promise((resolve, reject) =>
    start((error, response) =>
      error || response === undefined ? reject(error) : resolve(response),
    ),
  );
}
