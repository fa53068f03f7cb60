// A Lambda handler run by Node's official runtime interface client
// (aws-lambda-ric, unmodified). `{"fail": X}` throws an OrderRejected
// error (its `name` is the error type the client reports); `{"log": T}`
// logs T; anything else is answered with the event and the context the
// client built from the Runtime API's headers.
class OrderRejected extends Error {
  constructor(message) {
    super(message);
    this.name = "OrderRejected";
  }
}

exports.handler = async (event, context) => {
  if (event.fail) {
    throw new OrderRejected("rejected: " + event.fail);
  }
  if (event.log) {
    console.log(event.log);
  }
  return {
    echo: event,
    pid: process.pid,
    requestId: context.awsRequestId,
    functionName: context.functionName,
    arn: context.invokedFunctionArn,
    remainingMs: context.getRemainingTimeInMillis(),
    memoryMb: context.memoryLimitInMB,
  };
};
