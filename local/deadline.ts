// One bounded wait for the commands on top (the local plane, the operator commands): a promise that
// settles with the work, or rejects when the work takes longer than `ms`.

/** The work's result, or a rejection with `fail()`'s error (by default "<what> did not finish within Ns"). */
export function withTimeout<T>(
    work: Promise<T>,
    ms: number,
    what: string,
    fail: (message: string) => Error = (m) => new Error(m),
): Promise<T> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(fail(`${what} did not finish within ${ms / 1000} s`)), ms);
    });
    return Promise.race([work, timeout]).finally(() => clearTimeout(timer));
}
