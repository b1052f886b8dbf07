//! `idledger bench`: measures every performance target and prints each figure against its limit,
//! with baselines measured in the same run.

pub fn bench(_quick: bool, _only: &[String]) -> anyhow::Result<()> {
    anyhow::bail!("WIP")
}
