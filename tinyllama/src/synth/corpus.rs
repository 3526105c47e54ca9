//! A few short stories written for this crate: the text the generated
//! tokenizer learns its merges from.

/// Training text for the synthetic tokenizer's merges.
pub const CORPUS: &str = "\
Once upon a time there was a little girl named Lily. She liked to play in the garden with her dog. \
One day the dog found a big red ball under a tree. Lily was very happy and they played all day. \
When the sun went down, her mother called them home for dinner. They ate soup and bread and went to bed. \
There was a small boy called Tom who lived near the river. Every morning he walked to the water to look at the fish. \
The fish were fast and shiny, and Tom tried to count them, but they swam away too quickly. \
He told his friend Sam about the fish, and Sam wanted to see them too. \
The next day the two friends went to the river together. They sat on a rock and waited. \
A bird flew over the water and the fish jumped. Tom and Sam laughed and clapped their hands. \
In a quiet town there was an old cat that slept on a warm window. The cat liked the sun and the soft wind. \
One afternoon a little mouse came out of a hole and looked at the cat. The cat opened one eye and smiled. \
The mouse was brave and said hello. The cat said hello back, and from that day they were friends. \
The children in the park played with a kite. The kite went up high into the blue sky. \
It danced with the clouds and the wind pulled it left and right. Then the string broke and the kite flew away. \
The children were sad, but a kind man found the kite in a tree and gave it back to them. \
They thanked him and played until it was time to go home. Everyone was happy at the end of the day.";
