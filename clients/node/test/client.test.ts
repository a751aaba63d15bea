// Runs against a live suite: MODELPORT_TARGET=host:port npm test
import assert from "node:assert/strict";
import { after, test } from "node:test";
import * as grpc from "@grpc/grpc-js";

import { call, connect, deadline } from "../src/client.js";
import type { EmbedResponse__Output } from "../generated/modelport/v1/EmbedResponse.js";
import type { ClassifyResponse__Output } from "../generated/modelport/v1/ClassifyResponse.js";
import type { GenerateStreamResponse__Output } from "../generated/modelport/v1/GenerateStreamResponse.js";
import type { ChatStreamResponse__Output } from "../generated/modelport/v1/ChatStreamResponse.js";

const target = process.env.MODELPORT_TARGET;
if (!target) throw new Error("set MODELPORT_TARGET to a running router (host:port)");
const client = connect(target);
after(() => client.close());

test("Embed returns one normalised 384-d vector per input", async () => {
  const response = await call<EmbedResponse__Output>((cb) =>
    client.embedding.Embed(
      { model: { name: "all-MiniLM-L6-v2" }, inputs: ["hello", "world"] },
      { deadline: deadline(60) },
      cb,
    ),
  );
  assert.equal(response.embeddings.length, 2);
  for (const e of response.embeddings) {
    assert.equal(e.values.length, 384);
    const norm = Math.sqrt(e.values.reduce((s, x) => s + x * x, 0));
    assert.ok(Math.abs(norm - 1) < 1e-4);
  }
  assert.equal(response.model?.name, "all-MiniLM-L6-v2");
});

test("Classify says positive and negative", async () => {
  const response = await call<ClassifyResponse__Output>((cb) =>
    client.nlp.Classify(
      { model: { name: "sentiment" }, inputs: ["I love this", "This is awful"] },
      { deadline: deadline(60) },
      cb,
    ),
  );
  assert.deepEqual(
    response.results.map((r) => r.labels[0].label),
    ["positive", "negative"],
  );
});

test("GenerateStream streams chunks and ends with a finish reason", async () => {
  const stream = client.nlp.GenerateStream(
    { model: { name: "gemma-3-270m" }, prompts: ["Once upon a time"],
      parameters: { maxNewTokens: 8 } },
    { deadline: deadline(120) },
  );
  const chunks: GenerateStreamResponse__Output[] = [];
  for await (const chunk of stream) chunks.push(chunk);
  assert.ok(chunks.length >= 2, `only ${chunks.length} chunks`);
  const last = chunks[chunks.length - 1];
  assert.notEqual(last.finishReason, "FINISH_REASON_UNSPECIFIED");
  assert.ok(chunks.map((c) => c.text).join("").length > 0);
});

test("ChatStream answers with the role first and ends the turn", async () => {
  const stream = client.nlp.ChatStream(
    { model: { name: "smollm2-135m-instruct" },
      messages: [{ role: "user", content: "What is the capital of France?" }],
      parameters: { maxNewTokens: 24 } },
    { deadline: deadline(120) },
  );
  const chunks: ChatStreamResponse__Output[] = [];
  for await (const chunk of stream) chunks.push(chunk);
  assert.equal(chunks[0].role, "assistant");
  assert.equal(chunks[chunks.length - 1].finishReason, "FINISH_REASON_EOS");
  assert.match(chunks.map((c) => c.text).join(""), /Paris/);
});

test("an unknown model is NOT_FOUND", async () => {
  await assert.rejects(
    call<EmbedResponse__Output>((cb) =>
      client.embedding.Embed(
        { model: { name: "no-such-model" }, inputs: ["x"] },
        { deadline: deadline(30) },
        cb,
      ),
    ),
    (error: grpc.ServiceError) => error.code === grpc.status.NOT_FOUND,
  );
});
